//! `imi serve`: the REST API, its event stream and the board.

use imi_core::{Error, Result};

use crate::cli::ServeArgs;
use crate::ops::Env;

pub async fn run(_env: Env, _args: &ServeArgs) -> Result<()> {
    Err(Error::internal("imi serve is not built yet"))
}

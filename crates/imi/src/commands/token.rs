//! `imi token create|list|revoke` (placeholder until the token store lands).

use imi_core::{Error, Result};

use super::Ctx;
use crate::cli::TokenCommand;
use crate::ui::Output;

pub async fn cmd_token(_ctx: &Ctx<'_>, _cmd: &TokenCommand) -> Result<Output> {
    Err(Error::internal("tokens are not built yet"))
}

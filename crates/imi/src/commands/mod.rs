//! One module per command group; [`dispatch`] resolves settings and calls the one
//! the user asked for.

mod config;
mod db;

use imi_core::Result;

use crate::cli::{Cli, Command};
use crate::config::Settings;
use crate::ui::{Output, Ui};

pub async fn dispatch(cli: &Cli, _ui: &Ui) -> Result<Output> {
    let settings = Settings::load(&cli.global)?;
    match &cli.command {
        Command::Db(cmd) => db::cmd_db(&settings, cmd).await,
        Command::Config => config::cmd_config(&settings),
    }
}

//! One module per command group; [`dispatch`] resolves settings and calls the one
//! the user asked for. [`Ctx`] carries what every command needs.

mod add;
mod claims;
mod completion;
mod config;
mod dataio;
mod db;
mod doctor;
mod events;
mod go;
mod hooks;
mod inflight;
mod init;
mod list;
mod log;
mod merge;
mod metadata;
mod path;
mod prompt;
mod prune;
mod recover;
mod remove;
mod shell_init;
mod status;
mod sync;
mod token;
mod types;

use imi_core::{Error, Result};

use crate::cli::{Cli, Command, GlobalArgs};
use crate::config::Settings;
use crate::ops::Env;
use crate::registry::AnyStore;
use crate::ui::{Output, Ui};

/// What a command runs with: the operations' environment (settings, where it was
/// started, the registry once opened), the global flags, and the output.
pub struct Ctx<'a> {
    pub env: Env,
    pub global: &'a GlobalArgs,
    pub ui: &'a Ui,
}

impl Ctx<'_> {
    /// The registry, migrated to this binary's schema.
    pub async fn store(&self) -> Result<&AnyStore> {
        self.env.store().await
    }

    /// `-p`: the project named on the command line.
    pub fn project(&self) -> Option<String> {
        self.global.project.clone()
    }
}

/// The current directory. When it was deleted under the shell (after `imi merge`
/// or `imi remove` of the worktree the shell is in), the nearest existing ancestor
/// of the shell's `$PWD`: commands keep working from there (the project's
/// directory finds the project).
pub fn working_dir() -> Result<std::path::PathBuf> {
    std::env::current_dir().or_else(|e| {
        std::env::var_os("PWD")
            .map(std::path::PathBuf::from)
            .filter(|p| p.is_absolute())
            .and_then(|p| p.ancestors().find(|a| a.is_dir()).map(Into::into))
            .ok_or_else(|| {
                Error::validation(format!("cannot read the current directory: {e}"))
                    .with_hint("cd into an existing directory")
            })
    })
}

pub async fn dispatch(cli: &Cli, ui: &Ui) -> Result<Output> {
    let settings = Settings::load(&cli.global)?;
    let cwd = working_dir()?;
    if let Command::Mcp(a) = &cli.command {
        let remote = match &a.remote {
            Some(url) => Some(crate::mcp_remote::Remote::new(
                url,
                a.token.clone(),
                &settings.agent_id,
                &cwd,
            )?),
            None => None,
        };
        // stdout is the protocol: nothing else may be printed there
        crate::mcp::serve(Env::new(settings, cwd), remote).await?;
        return Ok(Output::new(serde_json::Value::Null, ""));
    }
    if let Command::Serve(a) = &cli.command {
        // a server answers requests for any project: nothing is inferred from the
        // directory it was started in
        crate::serve::run(Env::new(settings, std::path::PathBuf::from("/")), a).await?;
        return Ok(Output::new(serde_json::Value::Null, ""));
    }
    let ctx = Ctx {
        env: Env::new(settings, cwd).with_observer(ui.observer()),
        global: &cli.global,
        ui,
    };
    let result = match &cli.command {
        Command::Db(cmd) => db::cmd_db(&ctx.env.settings, cmd, cli.global.json).await,
        Command::Config(a) => config::cmd_config(&ctx.env.settings, &ctx.env.cwd, a),
        Command::Path(args) => path::cmd_path(&ctx, args.worktree.as_deref()).await,
        Command::Trunk => path::cmd_path(&ctx, None).await,
        Command::Go(args) => go::cmd_go(&ctx, args.query.as_deref()).await,
        Command::ShellInit(args) => shell_init::cmd_shell_init(args.shell),
        Command::Prompt => prompt::cmd_prompt(&ctx.env.cwd, cli.global.json),
        Command::Completion(args) => completion::cmd_completion(args.shell),
        Command::Init(a) => init::cmd_init(&ctx, a).await,
        Command::Add(a) => add::cmd_add(&ctx, &a.type_name, &a.rest).await,
        Command::Feat(a) => add::cmd_add(&ctx, "feat", a).await,
        Command::Fix(a) => add::cmd_add(&ctx, "fix", a).await,
        Command::Aiops(a) => add::cmd_add(&ctx, "aiops", a).await,
        Command::Devops(a) => add::cmd_add(&ctx, "devops", a).await,
        Command::Review(a) => add::cmd_review(&ctx, a).await,
        Command::List(a) => list::cmd_list(&ctx, a).await,
        Command::Status(a) => status::cmd_status(&ctx, a).await,
        Command::Remove(a) => remove::cmd_remove(&ctx, a).await,
        Command::Close(a) => remove::cmd_close(&ctx, a).await,
        Command::Merge(a) => merge::cmd_merge(&ctx, a).await,
        Command::Types(c) => types::cmd_types(&ctx, c).await,
        Command::Hooks(c) => hooks::cmd_hooks(&ctx, c).await,
        Command::Claim(a) => claims::cmd_claim(&ctx, a).await,
        Command::Renew(a) => claims::cmd_renew(&ctx, a).await,
        Command::Release(a) => claims::cmd_release(&ctx, a).await,
        Command::Claims(a) => claims::cmd_claims(&ctx, a).await,
        Command::Events(a) => events::cmd_events(&ctx, a).await,
        Command::Mcp(_) | Command::Serve(_) => unreachable!("served above"),
        Command::Token(c) => token::cmd_token(&ctx, c).await,
        Command::Metadata(c) => metadata::cmd_metadata(&ctx, c).await,
        Command::Log(a) => log::cmd_log(&ctx, a).await,
        Command::Import(c) => dataio::cmd_import(&ctx.env.settings, c, cli.global.json).await,
        Command::Sync(a) => sync::cmd_sync(&ctx, a).await,
        Command::Inflight => inflight::cmd_inflight(&ctx).await,
        Command::Stats => inflight::cmd_stats(&ctx).await,
        Command::Prune(a) => prune::cmd_prune(&ctx, a).await,
        Command::Doctor => doctor::cmd_doctor(&ctx).await,
        Command::Recover => recover::cmd_recover(&ctx).await,
    };
    if let Some(store) = ctx.env.into_store() {
        store.finish().await;
    }
    result
}

/// Commands that need neither settings nor the registry, run before the async
/// runtime exists: shell prompts call `imi prompt` (and scripts `imi path`) on
/// every line, so they must cost little more than starting a process (SPEC §8).
/// `None`: the command needs [`dispatch`].
pub fn dispatch_without_runtime(cli: &Cli) -> Option<Result<Output>> {
    let cwd = working_dir;
    let project = cli.global.project.as_deref();
    match &cli.command {
        Command::ShellInit(args) => Some(shell_init::cmd_shell_init(args.shell)),
        Command::Completion(args) => Some(completion::cmd_completion(args.shell)),
        Command::Prompt => Some(cwd().and_then(|d| prompt::cmd_prompt(&d, cli.global.json))),
        Command::Path(args) => match cwd() {
            Ok(d) => path::from_files(project, &d, args.worktree.as_deref()),
            Err(e) => Some(Err(e)),
        },
        Command::Trunk => match cwd() {
            Ok(d) => path::from_files(project, &d, None),
            Err(e) => Some(Err(e)),
        },
        _ => None,
    }
}

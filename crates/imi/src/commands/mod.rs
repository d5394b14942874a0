//! One module per command group; [`dispatch`] resolves settings and calls the one
//! the user asked for. [`Ctx`] carries what every command needs.

mod add;
mod common;
mod completion;
mod config;
mod dataio;
mod db;
mod doctor;
mod go;
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
mod types;
mod watch;
mod work;

use std::path::PathBuf;

use imi_core::{Error, Project, Result, Store};

use crate::cli::{Cli, Command, GlobalArgs};
use crate::config::Settings;
use crate::context;
use crate::registry::AnyStore;
use crate::ui::{Output, Ui};

/// What a command runs with: settings, the global flags, and where it was started.
pub struct Ctx<'a> {
    pub settings: Settings,
    pub global: &'a GlobalArgs,
    pub cwd: PathBuf,
    pub ui: &'a Ui,
}

impl Ctx<'_> {
    /// The registry, migrated to this binary's schema.
    pub async fn store(&self) -> Result<AnyStore> {
        AnyStore::open(&self.settings).await
    }
}

pub async fn dispatch(cli: &Cli, ui: &Ui) -> Result<Output> {
    let settings = Settings::load(&cli.global)?;
    let cwd = std::env::current_dir().map_err(|e| {
        Error::validation(format!("cannot read the current directory: {e}"))
            .with_hint("cd into an existing directory")
    })?;
    let ctx = Ctx {
        settings,
        global: &cli.global,
        cwd,
        ui,
    };
    match &cli.command {
        Command::Db(cmd) => db::cmd_db(&ctx.settings, cmd, cli.global.json).await,
        Command::Config => config::cmd_config(&ctx.settings),
        Command::Path(args) => path::cmd_path(&ctx, args.worktree.as_deref()).await,
        Command::Trunk => path::cmd_path(&ctx, None).await,
        Command::Go(args) => go::cmd_go(&ctx, args.query.as_deref()).await,
        Command::ShellInit(args) => shell_init::cmd_shell_init(args.shell),
        Command::Prompt => prompt::cmd_prompt(&ctx.cwd, cli.global.json),
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
        Command::Metadata(c) => metadata::cmd_metadata(&ctx, c).await,
        Command::Log(a) => log::cmd_log(&ctx, a).await,
        Command::Import(c) => dataio::cmd_import(&ctx.settings, c, cli.global.json).await,
        Command::Sync(a) => sync::cmd_sync(&ctx, a).await,
        Command::Inflight => inflight::cmd_inflight(&ctx).await,
        Command::Stats => inflight::cmd_stats(&ctx).await,
        Command::Prune(a) => prune::cmd_prune(&ctx, a).await,
        Command::Doctor => doctor::cmd_doctor(&ctx).await,
        Command::Recover => recover::cmd_recover(&ctx).await,
    }
}

/// Commands that need neither settings nor the registry, run before the async
/// runtime exists: shell prompts call `imi prompt` (and scripts `imi path`) on
/// every line, so they must cost little more than starting a process (SPEC §8).
/// `None`: the command needs [`dispatch`].
pub fn dispatch_without_runtime(cli: &Cli) -> Option<Result<Output>> {
    let cwd = || {
        std::env::current_dir().map_err(|e| {
            Error::validation(format!("cannot read the current directory: {e}"))
                .with_hint("cd into an existing directory")
        })
    };
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

/// The project a command acts on: `-p` (UUID, remote in any form, or name), else
/// the project whose container holds the current directory.
pub async fn resolve_project<S: Store>(s: &S, ctx: &Ctx<'_>) -> Result<Project> {
    if ctx.global.project.is_none()
        && let Some(loc) = context::locate(&ctx.cwd)?
    {
        // this host's `imi init` wrote the file: its trunk is this host's trunk
        let mut p = project_of_file(s, &loc).await?;
        p.trunk_path = loc.project.trunk_path;
        return Ok(p);
    }
    let p = resolve_project_row(s, ctx).await?;
    on_this_host(s, p).await
}

/// The project as this host sees it: several hosts share one project row, and each
/// registers its own trunk (SPEC §3.1), so the trunk path (and the container beside
/// it, where worktrees go) is this host's trunk worktree when it has one.
pub async fn on_this_host<S: Store>(s: &S, p: Project) -> Result<Project> {
    let id = p.id;
    let mut all = with_host_trunks(s, vec![p], Some(id)).await?;
    all.pop()
        .ok_or_else(|| Error::internal("a project went missing while reading its trunk"))
}

/// [`on_this_host`] for many projects, with one query.
pub async fn on_this_host_all<S: Store>(s: &S, projects: Vec<Project>) -> Result<Vec<Project>> {
    with_host_trunks(s, projects, None).await
}

async fn with_host_trunks<S: Store>(
    s: &S,
    mut projects: Vec<Project>,
    project_id: Option<uuid::Uuid>,
) -> Result<Vec<Project>> {
    let filter = imi_core::WorktreeFilter {
        project_id,
        type_name: Some("trunk".into()),
        host: Some(s.host().to_string()),
        ..Default::default()
    };
    let mut trunks: std::collections::HashMap<uuid::Uuid, String> = s
        .list_worktrees(&filter)
        .await?
        .into_iter()
        .map(|w| (w.project_id, w.path))
        .collect();
    for p in &mut projects {
        if let Some(t) = trunks.remove(&p.id) {
            p.trunk_path = t;
        }
    }
    Ok(projects)
}

async fn project_of_file<S: Store>(s: &S, loc: &context::Location) -> Result<Project> {
    s.get_project(loc.project.project_id).await.map_err(|e| {
        if e.kind != imi_core::ErrorKind::NotFound {
            // the registry failed, not the file: its own message says what to do
            return e;
        }
        Error::new(
            e.kind,
            format!(
                "{} names project {} but the registry does not know it",
                context::project_file_path(&loc.container).display(),
                loc.project.project_id
            ),
        )
        .with_hint("run `imi init` in the trunk to register it again")
    })
}

async fn resolve_project_row<S: Store>(s: &S, ctx: &Ctx<'_>) -> Result<Project> {
    match &ctx.global.project {
        Some(p) => project_by_spec(s, p).await,
        None => Err(Error::not_found(format!(
            "{} is not inside an imi project",
            ctx.cwd.display()
        ))
        .with_hint("run `imi init` in a git repository, or pass -p <name|uuid|remote>")),
    }
}

/// `-p` value: a UUID, a remote (anything with `:` or `/`), else a name.
pub async fn project_by_spec<S: Store>(s: &S, spec: &str) -> Result<Project> {
    if let Ok(id) = uuid::Uuid::parse_str(spec.trim()) {
        return s.get_project(id).await;
    }
    if spec.contains(':') || spec.contains('/') {
        return s.get_project_by_origin(spec).await;
    }
    s.get_project_by_name(spec).await
}

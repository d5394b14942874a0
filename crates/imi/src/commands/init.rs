//! `imi init [URL]`: register the repository here (or clone URL into the layout),
//! write `.iMi/project.json` and register the trunk worktree (see `ops::init`). A
//! repository outside the layout is moved into it only after confirmation (`--yes`,
//! or a question on the terminal).

use std::io::{BufRead, IsTerminal, Write};

use imi_core::Result;

use super::Ctx;
use crate::cli;
use crate::ops::init::{self, InitArgs, Initialized};
use crate::ui::Output;

pub async fn cmd_init(ctx: &Ctx<'_>, args: &cli::InitArgs) -> Result<Output> {
    // the registry first: an unreachable one fails before any question
    ctx.store().await?;
    let mut allow_move = args.yes;
    // without a URL, a repository outside the layout is moved only after a yes
    // (a clone is made in the layout)
    if !allow_move
        && args.url.is_none()
        && interactive()
        && let Some(m) = init::planned_move(&ctx.env)?
    {
        allow_move = confirm(&format!(
            "Move {} to {} (a rename)?",
            m.from.display(),
            m.to.display()
        ));
    }
    let args = InitArgs {
        url: args.url.clone(),
        allow_move,
    };
    let r = init::init(&ctx.env, &args).await?;
    Output::report(&r, render(&r))
}

fn render(r: &Initialized) -> String {
    let mut human = format!(
        "Registered project {} ({})\ntrunk {}\n",
        r.project.name, r.project.id, r.trunk_path
    );
    if let Some(from) = &r.moved_from {
        human.push_str(&format!("moved from {}\n", from.display()));
    }
    human
}

fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

fn confirm(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    matches!(line.trim(), "y" | "Y" | "yes")
}

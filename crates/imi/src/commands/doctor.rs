//! `imi doctor`: is everything consistent? Each problem comes with the command that
//! fixes it; any problem makes the exit code 1 (see `ops::doctor`).

use imi_core::Result;

use super::Ctx;
use crate::ops::doctor::{self, Doctor};
use crate::ui::Output;

pub async fn cmd_doctor(ctx: &Ctx<'_>) -> Result<Output> {
    let r = doctor::doctor(&ctx.env).await?;
    Output::report(&r, render(&r))
}

fn render(r: &Doctor) -> String {
    let mut human = String::new();
    for c in &r.checks {
        human.push_str(&format!(
            "{}  {}\n",
            if c.ok { "ok  " } else { "FAIL" },
            c.message
        ));
        if let Some(f) = &c.fix {
            human.push_str(&format!("      fix: {f}\n"));
        }
    }
    if r.problems == 0 {
        human.push_str("everything is consistent\n");
    }
    human
}

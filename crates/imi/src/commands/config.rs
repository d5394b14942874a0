//! `imi config`: the settings in effect and where each comes from.

use imi_core::Result;
use serde_json::json;

use crate::config::Settings;
use crate::ui::Output;

pub fn cmd_config(s: &Settings) -> Result<Output> {
    let data = json!({
        "config_file": s.config_file,
        "database": {"url": s.database.display(), "backend": s.database.backend(), "source": s.database_source},
        "root": {"value": s.root, "source": s.root_source},
        "agent_id": {"value": s.agent_id, "source": s.agent_source},
        "host": s.host,
    });
    let human = format!(
        "config file  {}\ndatabase     {} ({})\nroot         {} ({})\nagent        {} ({})\nhost         {}\n",
        s.config_file.display(),
        s.database.display(),
        s.database_source,
        s.root.display(),
        s.root_source,
        s.agent_id,
        s.agent_source,
        s.host,
    );
    Ok(Output::new(data, human))
}

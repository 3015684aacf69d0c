//! `ps`: the container's processes. `json` is the list of host pids in its cgroup;
//! `table` runs the host's `ps` and keeps the header and the container's lines.

use std::process::Command;

use crate::cli::{ListFormat, PsArgs};
use crate::container::Store;
use crate::error::{Context, Error, Result};

pub fn run(store: &Store, a: &PsArgs) -> Result<i32> {
    let dir = store.open_unlocked(&a.id)?;
    let state = dir.read_state()?;
    let pids = hull_cgroups::pids(&state.cgroup)?;
    if a.format == ListFormat::Json {
        if !a.ps_args.is_empty() {
            return Err(Error::msg("ps options cannot be used with --format json"));
        }
        println!("{}", serde_json::Value::from(pids));
        return Ok(0);
    }
    let args = if a.ps_args.is_empty() {
        vec!["-ef".to_string()]
    } else {
        a.ps_args.clone()
    };
    let out = Command::new("ps")
        .args(&args)
        .output()
        .context(|| "run ps".into())?;
    if !out.status.success() {
        return Err(Error::msg(format!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| Error::msg("ps output has no PID column"))?;
    println!("{header}");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            println!("{line}");
        }
    }
    Ok(0)
}

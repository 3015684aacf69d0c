//! `events`: the container's resource usage as runc's `stats` events, every `--interval`
//! (or once with `--stats`), and an `oom` event each time the OOM killer strikes in it.
//! Ends when the container stops.

use std::io::Write;
use std::time::{Duration, Instant};

use hull_cgroups::stats::Stats;
use serde::Serialize;

use crate::cli::EventsArgs;
use crate::container::{Status, Store};
use crate::error::{Error, Result};

/// runc's event line.
#[derive(Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Stats>,
}

/// One event line. False once nobody reads our stdout any more (then we stop).
fn emit(kind: &str, id: &str, data: Option<Stats>) -> bool {
    let line = serde_json::to_vec(&Event { kind, id, data }).unwrap_or_default();
    let mut out = std::io::stdout();
    out.write_all(&line)
        .and_then(|_| out.write_all(b"\n"))
        .is_ok()
}

pub fn run(store: &Store, a: &EventsArgs) -> Result<i32> {
    let interval = crate::timefmt::parse_go_duration(&a.interval)
        .ok_or_else(|| Error::msg(format!("--interval {:?}: not a duration", a.interval)))?;
    if interval.is_zero() {
        return Err(Error::msg("duration interval must be greater than 0"));
    }
    let dir = store.open_unlocked(&a.id)?;
    let state = dir.read_state()?;
    let running = || !matches!(state.status(&dir), Status::Stopped | Status::Creating);
    if !running() {
        return Err(Error::NotRunning);
    }
    let stats = || Some(hull_cgroups::stats::stats(&state.cgroup));
    if a.stats {
        emit("stats", &a.id, stats());
        return Ok(0);
    }
    let mut ooms = hull_cgroups::stats::oom_kills(&state.cgroup);
    let mut next_stats = Instant::now();
    while running() {
        let now_ooms = hull_cgroups::stats::oom_kills(&state.cgroup);
        if now_ooms > ooms && !emit("oom", &a.id, None) {
            break;
        }
        ooms = now_ooms;
        if Instant::now() >= next_stats {
            if !emit("stats", &a.id, stats()) {
                break;
            }
            next_stats += interval;
        }
        std::thread::sleep(interval.min(Duration::from_millis(100)));
    }
    Ok(0)
}

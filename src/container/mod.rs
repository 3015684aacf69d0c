//! A container as the runtime keeps it: its state.json under `--root/<id>`, the lock that
//! serialises commands on it, and its status, derived from the init process rather than
//! trusted from the file.

pub mod exec;
pub mod id;
mod store;

use std::collections::HashMap;
use std::path::PathBuf;

use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};

pub use store::{ContainerDir, Store, EXEC_FIFO};
pub mod lifecycle;

/// The OCI runtime-spec version this runtime implements (the `ociVersion` of `state`).
pub const OCI_VERSION: &str = "1.2.1";

/// How far `create` got. Written before each step that makes something, so that a later
/// `delete` knows what to undo even if the runtime was killed half-way.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// `create` has not finished: the cgroup and process may exist, nothing else is certain.
    Creating,
    /// `create` finished: the init waits for `start` or runs.
    Created,
}

/// What hull keeps in `state.json`.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct State {
    pub id: String,
    pub phase: Phase,
    /// Host pid of the container's init; 0 until it is cloned.
    pub pid: i32,
    /// Start time of that pid (clock ticks since boot, /proc/PID/stat field 22), so that a
    /// recycled pid is never taken for the container.
    pub pid_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// The container's cgroup: recorded before it is made.
    pub cgroup: hull_cgroups::CgroupPaths,
    /// The init shares the host's (or another) pid namespace: killing it does not kill
    /// the rest, so `kill`/`delete` must signal every process in the cgroup.
    pub shared_pid_ns: bool,
    /// The `--pid-file` of `create`, removed when a `create` that wrote it is undone.
    pub pid_file: Option<PathBuf>,
    pub config: Box<Spec>,
    /// What the init's fds 0-2 were when it was made (`pipe:[N]`, `/dev/null`): a
    /// checkpoint records them, so that a restore can put new pipes in their place.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stdio: Vec<String>,
    /// Made with `--no-new-keyring`: its `exec` processes keep the caller's keyring too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_new_keyring: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The (state, start time) of a live process, None if it is gone or a zombie.
pub fn process_start_time(pid: i32) -> Option<u64> {
    if pid <= 0 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_start_time(&stat)
}

/// Field 22 of /proc/PID/stat, after the parenthesised command name (which may hold
/// spaces and parentheses itself). None for zombies and dead tasks.
fn parse_stat_start_time(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    // `rest` starts at field 3 (state); starttime is field 22.
    fields.nth(22 - 4)?.parse().ok()
}

impl State {
    /// True while the recorded init is the same live process.
    pub fn init_alive(&self) -> bool {
        self.pid > 0 && process_start_time(self.pid) == Some(self.pid_start_time)
    }

    /// The status, from the process and the exec fifo (present until `start`).
    pub fn status(&self, dir: &ContainerDir) -> Status {
        if !self.init_alive() {
            return match self.phase {
                Phase::Creating if self.pid == 0 => Status::Creating,
                _ => Status::Stopped,
            };
        }
        if self.phase == Phase::Creating {
            return Status::Creating;
        }
        if hull_cgroups::is_frozen(&self.cgroup) {
            return Status::Paused;
        }
        if dir.has_exec_fifo() {
            Status::Created
        } else {
            Status::Running
        }
    }

    /// The `state` JSON of runc (and of the runtime spec), field for field.
    pub fn to_oci_json(&self, status: Status) -> serde_json::Value {
        let pid = if status == Status::Stopped {
            0
        } else {
            self.pid
        };
        let mut v = serde_json::json!({
            "ociVersion": OCI_VERSION,
            "id": self.id,
            "pid": pid,
            "status": status.as_str(),
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
        });
        if !self.annotations.is_empty() {
            v["annotations"] = serde_json::to_value(&self.annotations).unwrap_or_default();
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parsing_survives_odd_names() {
        let mut line = String::from("42 (a) b) c) S 1 42 42 0 -1 4194560");
        for i in 0..12 {
            line.push_str(&format!(" {i}"));
        }
        line.push_str(" 987654 0 0");
        // fields after ')' : state=3 ... starttime=22
        assert_eq!(parse_stat_start_time(&line), Some(987654));
        let zombie = line.replacen(") S ", ") Z ", 1);
        assert_eq!(parse_stat_start_time(&zombie), None);
    }

    #[test]
    fn own_process_is_alive() {
        let me = std::process::id() as i32;
        assert!(process_start_time(me).is_some());
        assert!(process_start_time(0).is_none());
    }
}

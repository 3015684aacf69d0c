//! `update`: change a running container's resources, from runc's flags or a
//! LinuxResources JSON (`--resources FILE`, or `-` for stdin as containerd sends it). The
//! new values are written to the cgroup and merged into the recorded config.

use std::io::Read;

use oci_spec::runtime::LinuxResources;
use serde_json::{json, Value};

use crate::cli::UpdateArgs;
use crate::container::{Status, Store};
use crate::error::{Context, Error, Result};

/// A size as runc's flags take it: bytes, or with a k/m/g/t/p suffix (binary), or -1.
fn parse_bytes(flag: &str, s: &str) -> Result<i64> {
    let bad = || Error::msg(format!("--{flag} {s:?}: not a size"));
    if s == "-1" {
        return Ok(-1);
    }
    let lower = s.trim().to_ascii_lowercase();
    let body = lower.trim_end_matches('b').trim_end_matches('i');
    let (num, shift) = match body.chars().last() {
        Some('k') => (&body[..body.len() - 1], 10),
        Some('m') => (&body[..body.len() - 1], 20),
        Some('g') => (&body[..body.len() - 1], 30),
        Some('t') => (&body[..body.len() - 1], 40),
        Some('p') => (&body[..body.len() - 1], 50),
        _ => (body, 0),
    };
    let n: f64 = num.trim().parse().map_err(|_| bad())?;
    if n < 0.0 {
        return Err(bad());
    }
    Ok((n * (1u64 << shift) as f64) as i64)
}

/// The text of `--resources`, checked as LinuxResources (errors name the field) but kept
/// as JSON: what it leaves out stays as it is.
pub(crate) fn parse_resources(text: &[u8]) -> Result<Value> {
    let bad = |e: String| Error::msg(crate::error::one_line(&format!("--resources: {e}")));
    let mut v = crate::spec::json_value(text).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    crate::spec::drop_pids_without_limit(&mut v);
    crate::spec::typed::<LinuxResources>(&v).map_err(bad)?;
    Ok(v)
}

/// The update as JSON, from the resources file or the flags.
fn requested(a: &UpdateArgs) -> Result<Value> {
    if let Some(src) = &a.resources {
        let mut text = String::new();
        if src == "-" {
            std::io::stdin()
                .read_to_string(&mut text)
                .context(|| "read resources from stdin".into())?;
        } else {
            text = std::fs::read_to_string(src).context(|| format!("read resources {src}"))?;
        }
        return parse_resources(text.as_bytes());
    }
    let mut v = json!({});
    let mut set = |section: &str, key: &str, value: Value| {
        v[section][key] = value;
    };
    for (flag, key, val) in [
        ("memory", "limit", &a.memory),
        ("memory-swap", "swap", &a.memory_swap),
        ("memory-reservation", "reservation", &a.memory_reservation),
        ("kernel-memory", "kernel", &a.kernel_memory),
        ("kernel-memory-tcp", "kernelTCP", &a.kernel_memory_tcp),
    ] {
        if let Some(s) = val {
            set("memory", key, parse_bytes(flag, s)?.into());
        }
    }
    if let Some(x) = a.cpu_shares {
        set("cpu", "shares", x.into());
    }
    if let Some(x) = a.cpu_quota {
        set("cpu", "quota", x.into());
    }
    if let Some(x) = a.cpu_period {
        set("cpu", "period", x.into());
    }
    if let Some(x) = a.cpu_rt_period {
        set("cpu", "realtimePeriod", x.into());
    }
    if let Some(x) = a.cpu_rt_runtime {
        set("cpu", "realtimeRuntime", x.into());
    }
    if let Some(x) = a.cpu_idle {
        set("cpu", "idle", x.into());
    }
    if let Some(x) = a.cpu_burst {
        set("cpu", "burst", x.into());
    }
    if let Some(x) = &a.cpuset_cpus {
        set("cpu", "cpus", x.as_str().into());
    }
    if let Some(x) = &a.cpuset_mems {
        set("cpu", "mems", x.as_str().into());
    }
    if let Some(x) = a.pids_limit {
        set("pids", "limit", x.into());
    }
    if let Some(x) = a.blkio_weight {
        set("blockIO", "weight", x.into());
    }
    Ok(v)
}

/// `base` with every non-null value of `over` laid on top, objects merged key by key.
fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                if v.is_null() {
                    continue;
                }
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// cpu.max holds quota and period together on cgroup v2: one given alone takes the
/// other's recorded value, as runc's update starts from the recorded resources.
/// `update --cpu-period` alone used to write "max PERIOD" and drop the quota. (Memory
/// and swap are not paired: `--memory -1` must not take a recorded swap limit below it.)
fn complete_pairs(update: &mut Value, recorded: &Value) {
    let is_set = |v: Option<&Value>| v.is_some_and(|v| !v.is_null());
    for (group, pair) in [("cpu", ["quota", "period"])] {
        let Some(given) = update.get_mut(group).and_then(Value::as_object_mut) else {
            continue;
        };
        if !pair.iter().any(|k| is_set(given.get(*k))) {
            continue;
        }
        for k in pair {
            let old = recorded.get(group).and_then(|g| g.get(k));
            if !is_set(given.get(k)) && is_set(old) {
                given.insert(k.to_string(), old.cloned().unwrap_or_default());
            }
        }
    }
}

pub fn run(store: &Store, a: &UpdateArgs) -> Result<i32> {
    let dir = store.open(&a.id)?;
    let mut state = dir.read_state()?;
    if matches!(state.status(&dir), Status::Stopped | Status::Creating) {
        return Err(Error::msg(format!(
            "cannot update container {}: container not running",
            a.id
        )));
    }
    let mut update = requested(a)?;
    // As runc: the device rules are the container's for life (a list here would replace
    // the defaults every container needs).
    if update
        .as_object_mut()
        .and_then(|o| o.remove("devices"))
        .is_some_and(|d| !d.is_null())
    {
        crate::logging::debug("update: device rules are not updated, as with runc");
    }
    // Recorded, so that `state`'s config and a later update start from the new values.
    // Through bytes: a Value serializer for the whole Spec would add its own copy of the
    // serialization code to the binary (the state file already has one for bytes).
    let mut config: Value = serde_json::to_vec(&*state.config)
        .and_then(|b| serde_json::from_slice(&b))
        .map_err(|e| Error::msg(format!("update: {e}")))?;
    complete_pairs(&mut update, &config["linux"]["resources"]);
    let resources: LinuxResources =
        crate::spec::typed(&update).map_err(|e| Error::msg(format!("update: {e}")))?;
    hull_cgroups::update(&state.cgroup, &resources)?;

    let mut current = config["linux"]["resources"].take();
    if current.is_null() {
        current = json!({});
    }
    merge(&mut current, &update);
    config["linux"]["resources"] = current;
    *state.config = crate::spec::typed(&config).map_err(|e| Error::msg(format!("update: {e}")))?;
    dir.write_state(&state)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_runc_takes_them() {
        assert_eq!(parse_bytes("memory", "64m").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("memory", "1G").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("memory", "512KiB").unwrap(), 512 << 10);
        assert_eq!(parse_bytes("memory", "1048576").unwrap(), 1 << 20);
        assert_eq!(parse_bytes("memory", "-1").unwrap(), -1);
        assert!(parse_bytes("memory", "lots").is_err());
        assert!(parse_bytes("memory", "-5m").is_err());
    }

    #[test]
    fn a_cpu_period_alone_keeps_the_recorded_quota() {
        let mut u = json!({"cpu": {"period": 900000}, "pids": {"limit": 5}});
        complete_pairs(
            &mut u,
            &json!({"cpu": {"quota": 500000, "period": 1000000}}),
        );
        assert_eq!(
            u,
            json!({"cpu": {"quota": 500000, "period": 900000}, "pids": {"limit": 5}})
        );
        let mut u = json!({"cpu": {"quota": 200}});
        complete_pairs(&mut u, &json!({}));
        assert_eq!(u, json!({"cpu": {"quota": 200}}), "nothing recorded");
        let mut u = json!({"memory": {"limit": -1}});
        complete_pairs(&mut u, &json!({"memory": {"limit": 5, "swap": 10}}));
        assert_eq!(u, json!({"memory": {"limit": -1}}), "memory is not paired");
    }

    #[test]
    fn merge_overlays_non_null_values() {
        let mut base = json!({"memory": {"limit": 1, "swap": 2}, "pids": {"limit": 5}});
        merge(
            &mut base,
            &json!({"memory": {"limit": 10, "swap": null}, "cpu": {"shares": 512}}),
        );
        assert_eq!(
            base,
            json!({"memory": {"limit": 10, "swap": 2}, "pids": {"limit": 5}, "cpu": {"shares": 512}})
        );
    }
}

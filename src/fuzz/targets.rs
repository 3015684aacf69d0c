//! The fuzz targets: config.json and process.json through the runtime's own path.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use oci_spec::runtime::Spec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::Value;

use super::mutate::{self, Mutations};
use super::one_line;
use crate::launch::plan::{Plan, PlanInput, ProcessPlan, SeccompPlan};

/// How many inputs got past the parse, and through the whole plan.
static PARSED: AtomicU64 = AtomicU64::new(0);
static PLANNED: AtomicU64 = AtomicU64::new(0);

/// A valid config with every part the runtime reads, so that mutations reach all of it.
pub fn rich_base() -> Value {
    let mut v = crate::commands::spec::default_spec(false);
    let p = &mut v["process"];
    p["user"] = serde_json::json!({"uid": 0, "gid": 0, "umask": 18, "additionalGids": [1, 2]});
    p["consoleSize"] = serde_json::json!({"height": 24, "width": 80});
    p["oomScoreAdj"] = serde_json::json!(100);
    p["scheduler"] =
        serde_json::json!({"policy": "SCHED_OTHER", "nice": 0, "flags": ["SCHED_RESET_ON_FORK"]});
    p["ioPriority"] = serde_json::json!({"class": "IOPRIO_CLASS_BE", "priority": 4});
    p["execCPUAffinity"] = serde_json::json!({"initial": "0", "final": "0-1"});
    p["apparmorProfile"] = serde_json::json!("");
    p["selinuxLabel"] = serde_json::json!("");
    p["rlimits"] = serde_json::json!([
        {"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024},
        {"type": "RLIMIT_CORE", "hard": 0, "soft": 0}
    ]);
    p["capabilities"]["inheritable"] = serde_json::json!(["CAP_KILL"]);
    v["domainname"] = serde_json::json!("example.com");
    v["annotations"] = serde_json::json!({
        "org.example.key": "value",
        "org.systemd.property.TimeoutStopSec": "uint64 5",
        "org.systemd.property.CollectMode": "'inactive-or-failed'",
        "org.systemd.property.DeviceAllow": "[('/dev/null', 'rw'), ('char-pts', 'rwm')]",
    });
    v["hooks"] = serde_json::json!({"prestart": [{"path": "/bin/true", "args": ["true"], "env": ["A=b"], "timeout": 5}]});
    v["mounts"]
        .as_array_mut()
        .expect("mounts")
        .push(serde_json::json!({"destination": "/data", "type": "bind", "source": "/tmp", "options": ["rbind", "ro", "rprivate"]}));
    let l = &mut v["linux"];
    l["namespaces"]
        .as_array_mut()
        .expect("namespaces")
        .push(serde_json::json!({"type": "time"}));
    l["timeOffsets"] = serde_json::json!({"monotonic": {"secs": 1, "nanosecs": 0}});
    l["devices"] = serde_json::json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0}]);
    l["sysctl"] = serde_json::json!({"net.ipv4.ip_forward": "1", "kernel.msgmax": "8192"});
    l["rootfsPropagation"] = serde_json::json!("rslave");
    l["cgroupsPath"] = serde_json::json!("/hull-fuzz");
    l["personality"] = serde_json::json!({"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"]});
    l["memoryPolicy"] =
        serde_json::json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]});
    l["resources"] = serde_json::json!({
        "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}],
        "memory": {"limit": 536870912, "swap": 1073741824},
        "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0"},
        "pids": {"limit": 100},
        "blockIO": {"weight": 500},
        "unified": {"memory.high": "max"}
    });
    l["seccomp"] = serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG"],
        "listenerPath": "/run/agent.sock", "listenerMetadata": "m",
        "syscalls": [
            {"names": ["read", "write", "openat", "exit_group"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"},
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
        ]
    });
    v
}

/// The bases mutations start from: runc's default, its rootless variant, and the rich one.
fn bases() -> &'static [Value] {
    static BASES: OnceLock<Vec<Value>> = OnceLock::new();
    BASES.get_or_init(|| {
        let mut rootless = crate::commands::spec::default_spec(true);
        // Fixed maps, so a failure replays on any machine.
        rootless["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
        rootless["linux"]["gidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
        rootless["mounts"]
            .as_array_mut()
            .expect("mounts")
            .push(serde_json::json!({"destination": "/data", "type": "bind", "source": "/tmp", "options": ["rbind", "ridmap"]}));
        vec![
            crate::commands::spec::default_spec(false),
            rootless,
            rich_base(),
        ]
    })
}

/// A bundle with a rootfs, and a fake cgroup2 mount, made once per test process.
struct Fixture {
    bundle: PathBuf,
    layout: hull_cgroups::Layout,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let bundle = dir.path().join("bundle");
        std::fs::create_dir_all(bundle.join("rootfs/etc")).expect("rootfs");
        let cg = dir.path().join("cgroup");
        let leaf = cg.join("hull-fuzz");
        std::fs::create_dir_all(&leaf).expect("cgroup");
        for f in [
            "cgroup.controllers",
            "cgroup.subtree_control",
            "memory.max",
            "memory.swap.max",
            "memory.high",
            "memory.low",
            "pids.max",
            "cpu.max",
            "cpu.weight",
            "cpu.idle",
            "cpuset.cpus",
            "cpuset.mems",
            "io.weight",
            "io.max",
        ] {
            std::fs::write(leaf.join(f), "").expect("cgroup file");
        }
        let mountinfo = format!(
            "30 23 0:26 / {} rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw\n",
            cg.display()
        );
        Fixture {
            bundle,
            layout: hull_cgroups::Layout::parse(&mountinfo, "0::/\n"),
            _dir: dir,
        }
    })
}

/// Error messages by shape (survey mode only), for a person to read.
static SHAPES: std::sync::Mutex<Option<std::collections::BTreeMap<String, String>>> =
    std::sync::Mutex::new(None);

fn check<T>(what: &str, r: crate::error::Result<T>) -> Result<Option<T>, TestCaseError> {
    match r {
        Ok(t) => Ok(Some(t)),
        Err(e) => {
            let msg = e.to_string();
            if let Some(m) = SHAPES.lock().unwrap().as_mut() {
                let mut shape = String::new();
                let mut quoted = false;
                for c in msg.chars().filter(|c| !c.is_ascii_digit()) {
                    match c {
                        '"' | '`' => quoted = !quoted,
                        _ if quoted => continue,
                        _ => {}
                    }
                    shape.push(c);
                }
                let shape: String = shape.chars().take(100).collect();
                m.entry(format!("{what}: {shape}"))
                    .or_insert(msg.chars().take(300).collect());
            }
            one_line(what, &msg).map(|_| None)
        }
    }
}

/// config.json's text through what `create` does before it makes anything.
pub fn config(text: &[u8], passwd: Option<&str>) -> Result<(), TestCaseError> {
    let f = fixture();
    let path = f.bundle.join(crate::spec::CONFIG);
    let Some(spec) = check("spec::parse", crate::spec::parse(text, &path))? else {
        return Ok(());
    };
    PARSED.fetch_add(1, Ordering::Relaxed);
    // state.json keeps the spec: it must read back.
    let saved = serde_json::to_vec(&spec)
        .map_err(|e| TestCaseError::fail(format!("serialize the spec: {e}")))?;
    if let Err(e) = serde_json::from_slice::<Spec>(&saved) {
        return Err(TestCaseError::fail(format!(
            "the spec does not read back from state.json: {e}"
        )));
    }
    // Hooks run before anything else can fail: their deadline must not overflow.
    if let Some(h) = spec.hooks() {
        for hook in [h.prestart(), h.create_runtime(), h.poststop()]
            .into_iter()
            .flatten()
            .flatten()
        {
            crate::hooks::deadline(hook.timeout());
        }
    }
    let rootfs = check("rootfs_path", crate::spec::rootfs_path(&f.bundle, &spec))?
        .unwrap_or_else(|| f.bundle.join("rootfs"));
    check("ProcessPlan::build", ProcessPlan::build(&spec, passwd))?;
    check("SeccompPlan::build", SeccompPlan::build(&spec))?;
    // What `--systemd-cgroup` adds: the unit name and the annotations' properties.
    if let Some(a) = spec.annotations() {
        check(
            "systemd::annotation_properties",
            hull_cgroups::systemd::annotation_properties(a).map_err(Into::into),
        )?;
    }
    let linux = spec.linux().clone().unwrap_or_default();
    let cgroups_path = linux.cgroups_path().as_ref().map(|p| p.to_string_lossy());
    check(
        "systemd::Unit::parse",
        hull_cgroups::systemd::Unit::parse(cgroups_path.as_deref(), "fuzz").map_err(Into::into),
    )?;
    let cg_path = linux
        .cgroups_path()
        .as_ref()
        .map_or_else(|| "/hull-fuzz".into(), |p| p.to_string_lossy().into_owned());
    let cgroup = check(
        "cgroups::plan",
        hull_cgroups::plan(&f.layout, &cg_path).map_err(Into::into),
    )?
    .unwrap_or_default();
    check(
        "cgroups::validate",
        hull_cgroups::validate(
            &cgroup,
            &crate::container::lifecycle::resources_with_devices(&spec),
        )
        .map_err(Into::into),
    )?;
    check(
        "Plan::build",
        Plan::build(PlanInput {
            spec: &spec,
            bundle: &f.bundle,
            rootfs: &rootfs,
            cgroup,
            no_pivot: false,
            keyring_id: Some("hull-fuzz"),
            passwd: passwd.map(str::to_string),
        }),
    )?
    .inspect(|_| {
        PLANNED.fetch_add(1, Ordering::Relaxed);
    });
    Ok(())
}

/// The text of `exec --process FILE` through `exec`'s parse and the process plan.
pub fn process(text: &[u8], passwd: Option<&str>) -> Result<(), TestCaseError> {
    let path = Path::new("/run/process.json");
    let Some(p) = check(
        "spec::parse_process",
        crate::spec::parse_process(text, path),
    )?
    else {
        return Ok(());
    };
    let mut spec: Spec =
        serde_json::from_value(rich_base()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    spec.set_process(Some(p));
    check("ProcessPlan::build", ProcessPlan::build(&spec, passwd))?;
    Ok(())
}

/// `update --resources`'s text: parsed as `update` does, checked against a cgroup as
/// `apply` does before it writes.
pub fn resources(text: &[u8]) -> Result<(), TestCaseError> {
    let f = fixture();
    let Some(v) = check(
        "update::parse_resources",
        crate::commands::update::parse_resources(text),
    )?
    else {
        return Ok(());
    };
    let r: oci_spec::runtime::LinuxResources = serde_json::from_value(v)
        .map_err(|e| TestCaseError::fail(format!("checked, then refused: {e}")))?;
    let cgroup = hull_cgroups::plan(&f.layout, "/hull-fuzz")
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    check(
        "cgroups::validate",
        hull_cgroups::validate(&cgroup, &r).map_err(Into::into),
    )?;
    Ok(())
}

fn config_cases() -> impl Strategy<Value = (usize, Mutations, Option<String>)> {
    (0..bases().len(), mutate::mutations(), mutate::passwd())
}

#[test]
fn bases_are_valid() {
    for (i, b) in bases().iter().enumerate() {
        let text = serde_json::to_vec(b).unwrap();
        let spec = crate::spec::parse(&text, Path::new("config.json"))
            .unwrap_or_else(|e| panic!("base {i}: {e}"));
        let f = fixture();
        Plan::build(PlanInput {
            spec: &spec,
            bundle: &f.bundle,
            rootfs: &f.bundle.join("rootfs"),
            cgroup: hull_cgroups::plan(&f.layout, "/hull-fuzz").unwrap(),
            no_pivot: false,
            keyring_id: Some("hull-fuzz"),
            passwd: None,
        })
        .unwrap_or_else(|e| panic!("base {i}: {e}"));
        config(&text, None).unwrap();
    }
}

#[test]
fn fuzz_config() {
    super::run("config", 400, config_cases(), |(base, m, passwd)| {
        config(&mutate::apply(&bases()[base], &m), passwd.as_deref())
    });
}

#[test]
fn fuzz_process() {
    let base = rich_base()["process"].clone();
    super::run(
        "process",
        400,
        (mutate::mutations(), mutate::passwd()),
        |(m, passwd)| process(&mutate::apply(&base, &m), passwd.as_deref()),
    );
}

#[test]
fn fuzz_resources() {
    let base = rich_base()["linux"]["resources"].clone();
    super::run("resources", 300, mutate::mutations(), |m| {
        resources(&mutate::apply(&base, &m))
    });
}

#[test]
fn survey() {
    if std::env::var_os("HULL_FUZZ_SHAPES").is_some() {
        *SHAPES.lock().unwrap() = Some(Default::default());
    }
    super::survey("config", config_cases(), |(base, m, passwd)| {
        config(&mutate::apply(&bases()[base], &m), passwd.as_deref())
    });
    eprintln!(
        "parsed {}, planned {}",
        PARSED.load(Ordering::Relaxed),
        PLANNED.load(Ordering::Relaxed)
    );
    let base = rich_base()["process"].clone();
    super::survey(
        "process",
        (mutate::mutations(), mutate::passwd()),
        |(m, passwd)| process(&mutate::apply(&base, &m), passwd.as_deref()),
    );
    for (_, example) in SHAPES.lock().unwrap().iter().flatten() {
        eprintln!("  {example}");
    }
}

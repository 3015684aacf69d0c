//! config.json: loaded with oci-spec, then checked for what the runtime needs before it
//! makes anything. Errors name the field.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{Capability, LinuxNamespaceType, Process, Spec};
use serde_json::Value;

use crate::error::{one_line, quote, Context, Error, Result};

pub const CONFIG: &str = "config.json";
/// A config.json larger than this is not a container config.
const MAX_CONFIG_SIZE: u64 = 32 << 20;

/// Reads and validates `<bundle>/config.json`.
pub fn load(bundle: &Path) -> Result<Spec> {
    let path = bundle.join(CONFIG);
    let data = match std::fs::metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::msg(format!(
                "JSON specification file {} not found",
                path.display()
            )))
        }
        Err(e) => return Err(e).context(|| format!("read {}", path.display())),
        Ok(m) if m.len() > MAX_CONFIG_SIZE => {
            return Err(Error::msg(format!(
                "{} is larger than 32 MiB",
                path.display()
            )))
        }
        Ok(_) => std::fs::read(&path).context(|| format!("read {}", path.display()))?,
    };
    parse(&data, &path)
}

/// `data` as a JSON object, prepared (error paths start with `base`) and typed.
fn typed_object<T: serde::de::DeserializeOwned>(
    data: &[u8],
    base: &str,
) -> std::result::Result<T, String> {
    if data.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err("not a JSON object".into());
    }
    let mut value = json_value(data)?;
    prepare(&mut value, base)?;
    typed(&value)
}

/// Parses and validates the text of a config.json (`path` is for the messages): what
/// [`load`] does once the file is read. Every error is one line that names the field.
pub fn parse(data: &[u8], path: &Path) -> Result<Spec> {
    let bad = |what: String| {
        Error::msg(one_line(&format!(
            "invalid config {}: {what}",
            path.display()
        )))
    };
    let spec: Spec = typed_object(data, "").map_err(bad)?;
    validate(&spec)?;
    Ok(spec)
}

/// The text of a process.json (`exec --process FILE`; `path` is for the messages), checked
/// as the process of a config is.
pub fn parse_process(data: &[u8], path: &Path) -> Result<Process> {
    let bad = |what: String| {
        Error::msg(one_line(&format!(
            "process file {}: {what}",
            path.display()
        )))
    };
    // A process.json without "user" runs as root, as runc's (Go's zero value).
    let with_user;
    let data = match serde_json::from_slice::<Value>(data) {
        Ok(Value::Object(mut o)) if !o.contains_key("user") => {
            o.insert("user".into(), serde_json::json!({"uid": 0, "gid": 0}));
            with_user = serde_json::to_vec(&o).map_err(|e| bad(e.to_string()))?;
            &with_user[..]
        }
        _ => data,
    };
    let process: Process = typed_object(data, "process.").map_err(bad)?;
    validate_process(&process, "").map_err(|e| bad(e.to_string()))?;
    Ok(process)
}

/// Deserializes JSON text; an error starts with the path of the field. Every Spec the
/// binary reads (config.json, process.json, state.json, `update`) comes through here, so
/// the binary holds one copy of oci-spec's deserialization code, not one per source.
pub fn from_json<T: serde::de::DeserializeOwned>(data: &[u8]) -> std::result::Result<T, String> {
    let mut de = serde_json::Deserializer::from_slice(data);
    let v = serde_path_to_error::deserialize(&mut de).map_err(path_error)?;
    de.end().map_err(|e| e.to_string())?;
    Ok(v)
}

/// The JSON text as a tree. As with Go's encoding/json (so runc), a key given twice keeps
/// its last value. serde_json stops at 128 levels of nesting, well before the stack does.
pub fn json_value(data: &[u8]) -> std::result::Result<Value, String> {
    from_json(data)
}

/// The tree as oci-spec's type (through its text: see [`from_json`]). The error names the
/// field; a line and column would be the re-serialized text's, so they are left out.
pub fn typed<T: serde::de::DeserializeOwned>(v: &Value) -> std::result::Result<T, String> {
    let text = serde_json::to_vec(v).map_err(|e| e.to_string())?;
    from_json(&text).map_err(|e| match e.rfind(" at line ") {
        Some(i)
            if e[i + 9..]
                .split(" column ")
                .all(|n| n.parse::<u64>().is_ok()) =>
        {
            e[..i].to_string()
        }
        _ => e,
    })
}

fn path_error<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> String {
    match e.path().to_string() {
        p if p == "." || p.is_empty() => e.inner().to_string(),
        p => format!("{}: {}", short_path(&p), e.inner()),
    }
}

/// A field path cut short: nesting 128 levels deep names its field in the first few.
fn short_path(p: &str) -> String {
    const MAX: usize = 64;
    if p.len() <= MAX {
        return p.to_string();
    }
    let cut = (0..=MAX)
        .rev()
        .find(|&i| p.is_char_boundary(i))
        .unwrap_or(0);
    format!("{}…", &p[..cut])
}

/// Where a NUL byte may be: free text that no syscall takes.
fn nul_allowed(path: &str) -> bool {
    path == "annotations"
        || path.starts_with("annotations.")
        || path.ends_with("seccomp.listenerMetadata")
}

/// What is checked on the tree before it is typed: no NUL byte in a string or key (a
/// syscall would refuse it much later, without naming the field), and capability names
/// this build does not know dropped with a warning, as runc does and the spec asks
/// ("SHOULD NOT fail" on capabilities that cannot be granted). `base` is the path of
/// `v` in a config ("process." for a process.json).
/// `"pids": {}` sets no limit in runc; oci-spec would read it as limit 0 (which is 1).
pub fn drop_pids_without_limit(resources: &mut Value) {
    if let Some(r) = resources.as_object_mut() {
        if r.get("pids").is_some_and(|p| p.get("limit").is_none()) {
            r.remove("pids");
        }
    }
}

/// `linux.memoryPolicy`'s mode and flags, in runc's words ("invalid memory policy mode
/// ..."), before oci-spec's enums refuse them in their own.
fn check_memory_policy_names(v: &Value) -> std::result::Result<(), String> {
    use oci_spec::runtime::{MemoryPolicyFlagType, MemoryPolicyModeType};
    let Some(mp) = v.pointer("/linux/memoryPolicy") else {
        return Ok(());
    };
    let mode = mp.get("mode").cloned().unwrap_or(Value::Null);
    if serde_json::from_value::<MemoryPolicyModeType>(mode.clone()).is_err() {
        return Err(format!(
            "invalid memory policy mode {:?}",
            mode.as_str().unwrap_or_default()
        ));
    }
    for f in mp
        .get("flags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if serde_json::from_value::<MemoryPolicyFlagType>(f.clone()).is_err() {
            return Err(format!(
                "invalid memory policy flag {:?}",
                f.as_str().unwrap_or_default()
            ));
        }
    }
    Ok(())
}

fn prepare(v: &mut Value, base: &str) -> std::result::Result<(), String> {
    fn nul(v: &Value, path: &mut String) -> std::result::Result<(), String> {
        let at = |p: &str| p.trim_start_matches('.').to_string();
        match v {
            Value::String(s) if s.contains('\0') && !nul_allowed(&at(path)) => {
                Err(format!("{}: contains a NUL byte", at(path)))
            }
            Value::Array(a) => a.iter().enumerate().try_for_each(|(i, x)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let r = nul(x, path);
                path.truncate(len);
                r
            }),
            Value::Object(o) => o.iter().try_for_each(|(k, x)| {
                let len = path.len();
                path.push('.');
                path.push_str(k);
                if k.contains('\0') && !nul_allowed(&at(path)) {
                    return Err(format!("{}: a key contains a NUL byte", at(path)));
                }
                let r = nul(x, path);
                path.truncate(len);
                r
            }),
            _ => Ok(()),
        }
    }
    nul(v, &mut String::new())?;

    if base.is_empty() {
        if let Some(r) = v.pointer_mut("/linux/resources") {
            drop_pids_without_limit(r);
        }
        check_memory_policy_names(v)?;
        // A namespace with "path": "" is a new one, as runc reads it.
        if let Some(Value::Array(nss)) = v.pointer_mut("/linux/namespaces") {
            for ns in nss.iter_mut().filter_map(Value::as_object_mut) {
                if ns.get("path").and_then(Value::as_str) == Some("") {
                    ns.remove("path");
                }
            }
        }
    }

    // The process object: config.json's "process", or a process.json itself.
    let mut process = if base.is_empty() {
        v.get_mut("process")
    } else {
        Some(&mut *v)
    };
    // The runtime spec's scheduler flag names; oci-spec spells two of them its own way.
    if let Some(Value::Array(flags)) = process
        .as_deref_mut()
        .and_then(|p| p.get_mut("scheduler"))
        .and_then(|s| s.get_mut("flags"))
    {
        for f in flags.iter_mut() {
            let oci_spec_name = match f.as_str() {
                Some("SCHED_FLAG_RESET_ON_FORK") => "SCHED_RESET_ON_FORK",
                Some("SCHED_FLAG_DL_OVERRUN") => "SCHED_FLAG_D_L_OVERRUN",
                _ => continue,
            };
            *f = oci_spec_name.into();
        }
    }

    // "If omitted or empty, runtime SHOULD NOT change process' CPU affinity": runc takes
    // "" as not set; oci-spec's pattern refuses it.
    if let Some(Value::Object(aff)) = process
        .as_deref_mut()
        .and_then(|p| p.get_mut("execCPUAffinity"))
    {
        aff.retain(|_, x| x.as_str() != Some(""));
    }
    let caps = process.and_then(|p| p.get_mut("capabilities"));
    let mut unknown = Vec::new();
    for set in caps
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|c| c.values_mut())
    {
        if let Value::Array(names) = set {
            names.retain(|n| match n {
                Value::String(s) if serde_json::from_value::<Capability>(n.clone()).is_err() => {
                    if !unknown.contains(s) {
                        unknown.push(s.clone());
                    }
                    false
                }
                _ => true,
            });
        }
    }
    if !unknown.is_empty() {
        crate::logging::warn(&one_line(&format!(
            "ignoring unknown or unavailable capabilities: {}",
            quote(&unknown)
        )));
    }
    Ok(())
}

/// The absolute rootfs of a bundle: `root.path` is relative to the bundle directory.
pub fn rootfs_path(bundle: &Path, spec: &Spec) -> Result<PathBuf> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::msg("root must be set in config.json"))?;
    let p = bundle.join(root.path());
    let canon =
        std::fs::canonicalize(&p).context(|| format!("rootfs {} (root.path)", quote(&p)))?;
    if !canon.is_dir() {
        return Err(Error::msg(format!(
            "rootfs {} (root.path) is not a directory",
            quote(&canon)
        )));
    }
    Ok(canon)
}

fn has_nul(s: &str) -> bool {
    s.as_bytes().contains(&0)
}

/// A process (a config's, or an exec's): its fields are named with `prefix` in front.
pub fn validate_process(process: &Process, prefix: &str) -> Result<()> {
    let args = process.args().as_deref().unwrap_or_default();
    if args.is_empty() || args[0].is_empty() {
        return Err(Error::msg(format!("{prefix}args must not be empty")));
    }
    for (i, a) in args.iter().enumerate() {
        if has_nul(a) {
            return Err(Error::msg(format!("{prefix}args[{i}] contains a NUL byte")));
        }
    }
    for (i, e) in process
        .env()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        if has_nul(e) || !e.contains('=') || e.starts_with('=') {
            return Err(Error::msg(format!(
                "{prefix}env[{i}] {} is not NAME=value",
                quote(e)
            )));
        }
    }
    if !process.cwd().is_absolute() {
        return Err(Error::msg(format!(
            "{prefix}cwd {} must be an absolute path",
            quote(process.cwd())
        )));
    }
    // The spec: "If rlimits contains duplicated entries with same type, the runtime MUST
    // generate an error."
    let rlimits = process.rlimits().as_deref().unwrap_or_default();
    for (i, r) in rlimits.iter().enumerate() {
        if rlimits[..i].iter().any(|o| o.typ() == r.typ()) {
            return Err(Error::msg(format!(
                "{prefix}rlimits[{i}].type: {} is listed twice",
                r.typ()
            )));
        }
    }
    Ok(())
}

/// What oci-spec's types do not already enforce.
pub fn validate(spec: &Spec) -> Result<()> {
    let v = spec.version();
    if !v.starts_with("1.") || v.split('.').count() < 3 {
        return Err(Error::msg(format!(
            "ociVersion {} is not a supported 1.x.y version",
            quote(v)
        )));
    }
    if spec.root().is_none() {
        return Err(Error::msg("root must be set in config.json"));
    }
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::msg("process must be set in config.json"))?;
    validate_process(process, "process.")?;
    if let Some(h) = spec.hostname() {
        if h.len() > 64 || has_nul(h) {
            return Err(Error::msg(format!(
                "hostname {} is longer than 64 bytes or has a NUL",
                quote(h)
            )));
        }
    }
    for (i, m) in spec
        .mounts()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        if !m.destination().is_absolute() {
            // runc's leniency: taken as relative to the container's /, with a warning.
            crate::logging::warn(&format!(
                "mounts[{i}]: mount destination {} is not absolute; taken from /",
                quote(m.destination())
            ));
        }
    }
    if let Some(h) = spec.hooks() {
        let lists = [
            h.prestart(),
            h.create_runtime(),
            h.create_container(),
            h.start_container(),
            h.poststart(),
            h.poststop(),
        ];
        for (kind, list) in crate::hooks::NAMES.into_iter().zip(lists) {
            for (i, hook) in list.iter().flatten().enumerate() {
                if !hook.path().is_absolute() {
                    return Err(Error::msg(format!(
                        "hooks.{kind}[{i}].path {} must be an absolute path",
                        quote(hook.path())
                    )));
                }
                if let Some(t) = hook.timeout().filter(|t| *t <= 0) {
                    return Err(Error::msg(format!(
                        "hooks.{kind}[{i}].timeout {t} must be greater than zero"
                    )));
                }
            }
        }
    }
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let namespaces = linux.namespaces().as_deref().unwrap_or_default();
    for (i, ns) in namespaces.iter().enumerate() {
        if namespaces[..i].iter().any(|o| o.typ() == ns.typ()) {
            return Err(Error::msg(format!(
                "linux.namespaces[{i}]: {} is listed twice",
                ns.typ()
            )));
        }
    }
    for (i, ns) in namespaces.iter().enumerate() {
        if ns.path().as_ref().is_some_and(|p| !p.is_absolute()) {
            return Err(Error::msg(format!(
                "linux.namespaces[{i}].path {} must be an absolute path",
                quote(ns.path().as_deref().unwrap_or(Path::new("")))
            )));
        }
    }
    for (i, d) in linux
        .devices()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        // makedev(3) takes 32-bit numbers; runc would truncate them silently.
        for (field, n) in [("major", d.major()), ("minor", d.minor())] {
            if u32::try_from(n).is_err() {
                return Err(Error::msg(format!(
                    "linux.devices[{i}].{field} {n} is not a device number (0 to 4294967295)"
                )));
            }
        }
        if d.path()
            .components()
            .any(|c| c == std::path::Component::ParentDir)
        {
            return Err(Error::msg(format!(
                "linux.devices[{i}].path {} must not contain ..",
                quote(d.path())
            )));
        }
    }
    let has = |t: LinuxNamespaceType| namespaces.iter().any(|n| n.typ() == t);
    let maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
        || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    if has(LinuxNamespaceType::User) {
        let joins = namespaces
            .iter()
            .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_some());
        if !joins && !maps {
            return Err(Error::msg(
                "linux.uidMappings and gidMappings are required with a new user namespace",
            ));
        }
    } else if maps {
        return Err(Error::msg(
            "linux.uidMappings need a user namespace in linux.namespaces",
        ));
    }
    if linux.time_offsets().as_ref().is_some_and(|t| !t.is_empty())
        && !has(LinuxNamespaceType::Time)
    {
        return Err(Error::msg(
            "linux.timeOffsets need a time namespace in linux.namespaces",
        ));
    }
    if let Some(sysctl) = linux.sysctl() {
        for key in sysctl.keys() {
            if key.is_empty() || key.contains("..") || key.starts_with('/') || has_nul(key) {
                return Err(Error::msg(format!(
                    "linux.sysctl key {} is not a sysctl name",
                    quote(key)
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn minimal() -> serde_json::Value {
        serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "process": {"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}
        })
    }

    fn check(v: serde_json::Value) -> Result<()> {
        let spec: Spec = serde_json::from_value(v).map_err(|e| Error::msg(e.to_string()))?;
        validate(&spec)
    }

    #[test]
    fn minimal_is_valid() {
        check(minimal()).unwrap();
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: Vec<(&str, serde_json::Value)> = vec![
            ("ociVersion", serde_json::json!("invalid")),
            ("process", serde_json::Value::Null),
        ];
        for (field, value) in cases {
            let mut v = minimal();
            v[field] = value;
            let err = check(v).unwrap_err().to_string();
            assert!(err.contains(field), "{field}: {err}");
        }
        let mut v = minimal();
        v["process"]["args"] = serde_json::json!([]);
        assert!(check(v).unwrap_err().to_string().contains("process.args"));
        let mut v = minimal();
        v["process"]["cwd"] = serde_json::json!("rel");
        assert!(check(v).unwrap_err().to_string().contains("process.cwd"));
        let mut v = minimal();
        v["process"]["env"] = serde_json::json!(["NOEQUALS"]);
        assert!(check(v).unwrap_err().to_string().contains("process.env[0]"));
        let mut v = minimal();
        v["linux"]["namespaces"] = serde_json::json!([{"type": "pid"}, {"type": "pid"}]);
        assert!(check(v).unwrap_err().to_string().contains("twice"));
        let mut v = minimal();
        v["linux"]["namespaces"] = serde_json::json!([{"type": "user"}]);
        assert!(check(v).unwrap_err().to_string().contains("uidMappings"));
        let mut v = minimal();
        v["mounts"] =
            serde_json::json!([{"destination": "tmp", "type": "tmpfs", "source": "tmpfs"}]);
        check(v).expect("a relative destination is taken from / (runc warns only)");
    }

    fn parse_err(text: &str) -> String {
        let e = parse(text.as_bytes(), Path::new("/b/config.json"))
            .unwrap_err()
            .to_string();
        assert!(
            !e.contains('\n') && !e.contains('\r'),
            "not one line: {e:?}"
        );
        assert!(
            e.len() <= crate::error::MAX_MESSAGE + 8,
            "too long: {}",
            e.len()
        );
        e
    }

    fn with(edit: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut v = minimal();
        edit(&mut v);
        v.to_string()
    }

    /// Inputs the fuzzer found (or the brief listed) and what they get now.
    #[test]
    fn bad_input_is_one_line_naming_the_field() {
        // serde's messages quote values as they are: a newline in an enum value made a
        // two-line error, and none named the field.
        let e = parse_err(&with(|v| {
            v["linux"]["namespaces"][0]["type"] = "pi\nd".into()
        }));
        assert!(
            e.contains("linux.namespaces[0].type: unknown variant `pi\\nd`"),
            "{e}"
        );
        let e = parse_err(&with(|v| v["process"]["user"]["uid"] = u64::MAX.into()));
        assert!(e.contains("process.user.uid: invalid value"), "{e}");
        let e = parse_err(&with(|v| v["process"]["user"]["uid"] = (-1).into()));
        assert!(e.contains("process.user.uid"), "{e}");
        let e = parse_err(&with(|v| {
            v["process"]["rlimits"] = serde_json::json!([{"type": 5, "soft": 1, "hard": 1}])
        }));
        assert!(e.contains("process.rlimits[0].type"), "{e}");
        let e = parse_err(&with(|v| {
            v["process"]["args"] = serde_json::json!(["a", 1.5])
        }));
        assert!(e.contains("process.args[1]"), "{e}");
        // A lone surrogate is no string.
        let e =
            parse_err(&with(|v| v["hostname"] = "MARK".into()).replace("\"MARK\"", "\"\\ud800\""));
        assert!(e.contains("hostname: unexpected end of hex escape"), "{e}");
        let e = parse_err(
            &with(|v| v["hostname"] = "MARK".into()).replace("\"MARK\"", "\"\\ud800\\u0041\""),
        );
        assert!(e.contains("hostname: lone leading surrogate"), "{e}");
        // NUL bytes: refused where the field is read, not by a syscall in the child.
        let e = parse_err(&with(|v| {
            v["mounts"] = serde_json::json!([{"destination": "/a\u{0}b", "type": "tmpfs"}])
        }));
        assert!(
            e.contains("mounts[0].destination: contains a NUL byte"),
            "{e}"
        );
        let e = parse_err(&with(|v| {
            v["linux"]["sysctl"] = serde_json::json!({"net.a\u{0}": "1"})
        }));
        assert!(e.contains("linux.sysctl.net.a"), "{e}");
        // 64 KiB values are cut short in the message.
        let e = parse_err(&with(|v| v["process"]["cwd"] = "x".repeat(70000).into()));
        assert!(
            e.contains("process.cwd \"xxx") && e.contains("bytes)"),
            "{e}"
        );
        let e = parse_err(&with(|v| v["hostname"] = "\n".repeat(70000).into()));
        assert!(e.starts_with("hostname \"\\n\\n"), "{e}");
        // Not JSON, not an object, not UTF-8, cut short.
        assert!(parse_err("[1]").contains("not a JSON object"));
        let e = parse(b"{\"ociVersion\": \"\xff\"}", Path::new("c")).unwrap_err();
        assert!(e.to_string().contains("ociVersion"), "{e}");
        assert!(parse_err("{\"process\": {\"args\": [").contains("process.args"));
        // Numbers out of range for their fields.
        let e = parse_err(&with(
            |v| {
                v["linux"]["devices"] =
                    serde_json::json!([{"path": "/dev/x", "type": "c", "major": -1, "minor": 0}])
            },
        ));
        assert!(e.contains("linux.devices[0].major -1"), "{e}");
        let e = parse_err(&with(
            |v| {
                v["linux"]["devices"] =
                    serde_json::json!([{"path": "/dev/../x", "type": "c", "major": 1, "minor": 0}])
            },
        ));
        assert!(e.contains("linux.devices[0].path"), "{e}");
        let e = parse_err(&with(|v| {
            v["process"]["rlimits"] = serde_json::json!([
            {"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1}, {"type": "RLIMIT_NOFILE", "soft": 2, "hard": 2}])
        }));
        assert!(
            e.contains("process.rlimits[1].type: RLIMIT_NOFILE is listed twice"),
            "{e}"
        );
        let e = parse_err(&with(
            |v| {
                v["linux"]["namespaces"] = serde_json::json!([{"type": "pid"}, {"type": "network", "path": "proc/1/ns/net"}])
            },
        ));
        assert!(e.contains("linux.namespaces[1].path"), "{e}");
        // Hooks: a timeout must be above zero (the spec), and i64::MAX seconds overflowed
        // the clock in `hooks::run` (a panic, so an abort, before any cleanup).
        let e =
            parse_err(&with(
                |v| {
                    v["hooks"] =
                        serde_json::json!({"prestart": [{"path": "/bin/true", "timeout": 0}]})
                },
            ));
        assert!(e.contains("hooks.prestart[0].timeout 0"), "{e}");
        let e = parse_err(&with(|v| {
            v["hooks"] = serde_json::json!({"poststop": [{"path": "true"}]})
        }));
        assert!(e.contains("hooks.poststop[0].path"), "{e}");
        check(serde_json::from_str(&with(|v| v["hooks"] = serde_json::json!({"prestart": [{"path": "/bin/true", "timeout": i64::MAX}]}))).unwrap()).unwrap();
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        for depth in [129, 10_000, 100_000] {
            for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
                let text = format!(
                    "{{\"ociVersion\": \"1.0.2\", \"annotations\": {}1{}}}",
                    open.repeat(depth),
                    close.repeat(depth)
                );
                let e = parse_err(&text);
                assert!(e.contains("recursion limit exceeded"), "{e}");
            }
        }
        // Within the limit: only the type is wrong.
        let text = format!(
            "{{\"annotations\": {}1{}}}",
            "[".repeat(100),
            "]".repeat(100)
        );
        assert!(parse_err(&text).contains("annotations: invalid type"));
    }

    /// What runc takes, and the spec allows: taken too.
    #[test]
    fn accepted_as_runc_does() {
        let ok = |text: String| parse(text.as_bytes(), Path::new("c")).unwrap();
        // Capabilities this build does not know: ignored with a warning.
        let s = ok(with(
            |v| {
                v["process"]["capabilities"] =
                    serde_json::json!({"bounding": ["CAP_KILL", "CAP_FUTURE", "x\ny"]})
            },
        ));
        let caps = s
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .clone()
            .unwrap();
        assert_eq!(caps.bounding().as_ref().unwrap().len(), 1);
        // A key given twice: the last one, as Go's encoding/json.
        let s = ok(
            r#"{"ociVersion": "1.0.2", "hostname": "a", "hostname": "b", "root": {"path": "r"},
            "process": {"args": ["x"], "cwd": "/", "user": {"uid": 0, "gid": 0}}}"#
                .into(),
        );
        assert_eq!(s.hostname().as_deref(), Some("b"));
        // An empty execCPUAffinity: no change of affinity.
        let s = ok(with(|v| {
            v["process"]["execCPUAffinity"] = serde_json::json!({"initial": "", "final": ""})
        }));
        let aff = s
            .process()
            .as_ref()
            .unwrap()
            .exec_cpu_affinity()
            .clone()
            .unwrap();
        assert!(aff.initial().is_none() && aff.cpu_affinity_final().is_none());
        // NUL is fine where no syscall reads it.
        ok(with(|v| {
            v["annotations"] = serde_json::json!({"k": "a\u{0}b"})
        }));
    }

    #[test]
    fn process_files_are_checked_like_a_config_process() {
        let p = |v: serde_json::Value| {
            parse_process(v.to_string().as_bytes(), Path::new("/p.json")).map_err(|e| e.to_string())
        };
        let base = || serde_json::json!({"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}});
        p(base()).unwrap();
        let mut v = base();
        v["cwd"] = "relative".into();
        assert!(p(v)
            .unwrap_err()
            .contains("process file /p.json: cwd \"relative\" must be an absolute path"));
        let mut v = base();
        v["env"] = serde_json::json!(["A=1", "NOEQUALS"]);
        assert!(p(v).unwrap_err().contains("env[1]"));
        let mut v = base();
        v["user"]["uid"] = "root".into();
        assert!(p(v).unwrap_err().contains("user.uid: invalid type"));
        let mut v = base();
        v["capabilities"] = serde_json::json!({"effective": ["CAP_NOPE\n"]});
        p(v).unwrap();
        assert!(p(serde_json::json!({"args": []})).is_err());
        let root = p(serde_json::json!({"args": ["/bin/env"], "cwd": "/"})).unwrap();
        assert_eq!(
            (root.user().uid(), root.user().gid()),
            (0, 0),
            "no user: root"
        );
        assert!(p(serde_json::json!([]))
            .unwrap_err()
            .contains("not a JSON object"));
    }
}

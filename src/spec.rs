//! config.json: loaded with oci-spec, then checked for what the runtime needs before it
//! makes anything. Errors name the field.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{Context, Error, Result};

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
    if data.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(Error::msg(format!(
            "invalid config {}: not a JSON object",
            path.display()
        )));
    }
    let spec: Spec = serde_json::from_slice(&data)
        .map_err(|e| Error::msg(format!("invalid config {}: {e}", path.display())))?;
    validate(&spec)?;
    Ok(spec)
}

/// The absolute rootfs of a bundle: `root.path` is relative to the bundle directory.
pub fn rootfs_path(bundle: &Path, spec: &Spec) -> Result<PathBuf> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::msg("root must be set in config.json"))?;
    let p = bundle.join(root.path());
    let canon =
        std::fs::canonicalize(&p).context(|| format!("rootfs {} (root.path)", p.display()))?;
    if !canon.is_dir() {
        return Err(Error::msg(format!(
            "rootfs {} (root.path) is not a directory",
            canon.display()
        )));
    }
    Ok(canon)
}

fn has_nul(s: &str) -> bool {
    s.as_bytes().contains(&0)
}

/// What oci-spec's types do not already enforce.
pub fn validate(spec: &Spec) -> Result<()> {
    let v = spec.version();
    if !v.starts_with("1.") || v.split('.').count() < 3 {
        return Err(Error::msg(format!(
            "ociVersion {v:?} is not a supported 1.x.y version"
        )));
    }
    if spec.root().is_none() {
        return Err(Error::msg("root must be set in config.json"));
    }
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::msg("process must be set in config.json"))?;
    let args = process.args().as_deref().unwrap_or_default();
    if args.is_empty() || args[0].is_empty() {
        return Err(Error::msg("process.args must not be empty"));
    }
    for (i, a) in args.iter().enumerate() {
        if has_nul(a) {
            return Err(Error::msg(format!("process.args[{i}] contains a NUL byte")));
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
                "process.env[{i}] {e:?} is not NAME=value"
            )));
        }
    }
    if !process.cwd().is_absolute() {
        return Err(Error::msg(format!(
            "process.cwd {:?} must be an absolute path",
            process.cwd()
        )));
    }
    if let Some(h) = spec.hostname() {
        if h.len() > 64 || has_nul(h) {
            return Err(Error::msg(format!(
                "hostname {h:?} is longer than 64 bytes or has a NUL"
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
            return Err(Error::msg(format!(
                "mounts[{i}].destination {:?} must be an absolute path",
                m.destination()
            )));
        }
    }
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let namespaces = linux.namespaces().as_deref().unwrap_or_default();
    for (i, ns) in namespaces.iter().enumerate() {
        if namespaces[..i].iter().any(|o| o.typ() == ns.typ()) {
            return Err(Error::msg(format!(
                "linux.namespaces: {:?} is listed twice",
                ns.typ()
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
                    "linux.sysctl key {key:?} is not a sysctl name"
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
        assert!(check(v)
            .unwrap_err()
            .to_string()
            .contains("mounts[0].destination"));
    }
}

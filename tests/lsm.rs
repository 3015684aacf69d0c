//! Security modules applied for real: an AppArmor profile confines the container where
//! the kernel runs AppArmor and `apparmor_parser` can load profiles (the cgroup v2 VM of
//! integration/vm-tests.sh: Debian's kernel there has it on), SELinux labels reach the
//! process, its keyring and its mounts where a policy is loaded (the systemd VM boots
//! with `security=selinux`). Elsewhere each test prints why it skipped; on a host without
//! the module, tests/failures.rs checks that a label is refused instead.

mod common;

use std::path::Path;
use std::process::Command;

use common::{assert_no_leaks, id, Bundle, Hull};
use serde_json::json;

/// The process's label, without the newline (AppArmor) or NUL (SELinux) it ends in.
const LABEL: &str = "tr -d '\\n\\000' < /proc/self/attr/current; echo";

/// What the AppArmor test writes and reads inside: the profile lets everything but
/// writes to /tmp/denied*.
fn probe() -> String {
    format!("{LABEL}; touch /tmp/ok && echo ok-written; touch /tmp/denied 2>/dev/null || echo denied-refused")
}

fn apparmor_unavailable() -> Option<String> {
    let enabled = Path::new("/sys/kernel/security/apparmor").exists()
        && std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|s| s.starts_with('Y'));
    if !enabled {
        return Some("AppArmor is not enabled in this kernel".into());
    }
    match Command::new("apparmor_parser").arg("--version").output() {
        Ok(o) if o.status.success() => None,
        _ => Some("apparmor_parser is not installed (apt-get install apparmor)".into()),
    }
}

/// Loads (or replaces) profile `name`: everything allowed but writing /tmp/denied*.
fn load_profile(name: &str) {
    let text = format!(
        "profile {name} flags=(attach_disconnected,mediate_deleted) {{\n  file,\n  \
         capability,\n  network,\n  mount,\n  remount,\n  umount,\n  pivot_root,\n  \
         ptrace,\n  signal,\n  unix,\n  deny /tmp/denied* w,\n}}\n"
    );
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), text).unwrap();
    let o = Command::new("apparmor_parser")
        .args(["-r", "-K"])
        .arg(f.path())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "apparmor_parser: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn confined_output(profile: &str) -> String {
    format!("{profile} (enforce)\nok-written\ndenied-refused\n")
}

/// The config's profile confines the init, and an exec (inherited, or named with
/// `--apparmor` into an unconfined container); a profile the kernel does not know fails
/// `run` in one line and leaves nothing.
#[test]
fn an_apparmor_profile_confines_the_init_and_exec() {
    require_root!();
    if let Some(why) = apparmor_unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let profile = "hull-test-nowrite";
    load_profile(profile);
    let hull = Hull::default();
    let mut b = Bundle::with_own_rootfs(&["sh", "-c", &probe()]);
    b.edit(|c| c["process"]["apparmorProfile"] = json!(profile));
    let id = id("aa");
    let r = hull.run_container(&b, &id);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, confined_output(profile).as_str()),
        "{}",
        r.stderr
    );
    assert_no_leaks(&hull, &id, b.path());

    // exec takes the config's profile.
    b.edit(|c| c["process"]["args"] = json!(["sleep", "1000"]));
    let id = common::id("aa-exec");
    let _g = common::DeleteOnPanic::new(&hull, &id);
    hull.run_d(&b, &id);
    let r = hull.run(&["exec", &id, "sh", "-c", &probe()]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, confined_output(profile).as_str()),
        "{}",
        r.stderr
    );
    assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());

    // An unconfined init; `exec --apparmor` confines the exec only.
    b.edit(|c| c["process"]["apparmorProfile"] = json!(null));
    let id = common::id("aa-flag");
    let _g = common::DeleteOnPanic::new(&hull, &id);
    hull.run_d(&b, &id);
    let pid = hull.state(&id)["pid"].as_i64().unwrap();
    let init = std::fs::read_to_string(format!("/proc/{pid}/attr/current")).unwrap();
    assert_eq!(init.trim(), "unconfined");
    let r = hull.run(&["exec", "--apparmor", profile, &id, "sh", "-c", &probe()]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, confined_output(profile).as_str()),
        "{}",
        r.stderr
    );
    assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());

    // A profile that is not loaded.
    b.edit(|c| c["process"]["apparmorProfile"] = json!("hull-test-no-such-profile"));
    let id = common::id("aa-missing");
    let r = hull.run_container(&b, &id);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("unable to apply apparmor profile hull-test-no-such-profile")
            && r.stderr.trim_end().lines().count() == 1,
        "{}",
        r.stderr
    );
    assert_no_leaks(&hull, &id, b.path());
}

const PROCESS_LABEL: &str = "system_u:system_r:container_t:s0:c4,c5";
const MOUNT_LABEL: &str = "system_u:object_r:container_file_t:s0:c4,c5";
const EXEC_LABEL: &str = "system_u:system_r:container_t:s0:c6,c7";

/// Why SELinux labels cannot be tested here, if they cannot: no policy loaded, or one
/// without the container types (integration/selinux/hull-container.cil).
fn selinux_unavailable() -> Option<String> {
    if !Path::new("/sys/fs/selinux/enforce").exists() {
        return Some("SELinux is not enabled (no policy loaded)".into());
    }
    // selinuxfs's context file takes a label the policy knows, and refuses others.
    for label in [PROCESS_LABEL, MOUNT_LABEL] {
        if std::fs::write("/sys/fs/selinux/context", label).is_err() {
            return Some(format!(
                "the loaded policy does not know {label} (integration/selinux/hull-container.cil)"
            ));
        }
    }
    None
}

fn xattr_label(path: &str) -> String {
    let c = std::ffi::CString::new(path).unwrap();
    let mut buf = [0u8; 256];
    // SAFETY: valid C strings and buffer.
    let n = unsafe {
        libc::getxattr(
            c.as_ptr(),
            c"security.selinux".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    assert!(
        n > 0,
        "getxattr {path}: {}",
        std::io::Error::last_os_error()
    );
    String::from_utf8_lossy(&buf[..n as usize])
        .trim_end_matches('\0')
        .to_string()
}

/// `selinuxLabel` is the process's label (`exec --process-label` an exec's) and its
/// session keyring's; `mountLabel` is the `context=` of the tmpfs mounts and the label of
/// /dev/mqueue.
#[test]
fn selinux_labels_reach_the_process_its_keyring_and_its_mounts() {
    require_root!();
    if let Some(why) = selinux_unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let helper = match common::helper("session_keyring") {
        Ok(p) => p,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let hull = Hull::default();
    let script = format!("{LABEL}; /keyring");
    let mut b = Bundle::with_own_rootfs(&["sh", "-c", &script]);
    std::fs::copy(&helper, b.rootfs().join("keyring")).unwrap();
    b.edit(|c| {
        c["process"]["selinuxLabel"] = json!(PROCESS_LABEL);
        c["linux"]["mountLabel"] = json!(MOUNT_LABEL);
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs"}));
    });
    let id = id("se");
    let r = hull.run_container(&b, &id);
    let label = PROCESS_LABEL;
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, format!("{label}\n_ses.{id} {label}\n").as_str()),
        "{}",
        r.stderr
    );
    assert_no_leaks(&hull, &id, b.path());

    b.edit(|c| c["process"]["args"] = json!(["sleep", "1000"]));
    let id = common::id("se-exec");
    let _g = common::DeleteOnPanic::new(&hull, &id);
    hull.run_d(&b, &id);
    let pid = hull.state(&id)["pid"].as_i64().unwrap();
    let current = std::fs::read_to_string(format!("/proc/{pid}/attr/current")).unwrap();
    assert_eq!(current.trim_end_matches(['\0', '\n']), PROCESS_LABEL);
    let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    for dest in ["/scratch", "/dev"] {
        let line = mountinfo
            .lines()
            .find(|l| l.split(' ').nth(4) == Some(dest))
            .unwrap_or_else(|| panic!("no {dest} in {mountinfo}"));
        assert!(
            line.contains(&format!("context=\"{MOUNT_LABEL}\""))
                || line.contains(&format!("context={MOUNT_LABEL}")),
            "{line}"
        );
    }
    assert_eq!(
        xattr_label(&format!("/proc/{pid}/root/scratch")),
        MOUNT_LABEL
    );
    assert_eq!(
        xattr_label(&format!("/proc/{pid}/root/dev/mqueue")),
        MOUNT_LABEL
    );
    // An exec joins the init's keyring; its own label by --process-label.
    let r = hull.run(&["exec", &id, "/keyring"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, format!("_ses.{id} {label}\n").as_str()),
        "{}",
        r.stderr
    );
    let r = hull.run(&[
        "exec",
        "--process-label",
        EXEC_LABEL,
        &id,
        "cat",
        "/proc/self/attr/current",
    ]);
    assert_eq!(
        (r.code, r.stdout.trim_end_matches(['\0', '\n'])),
        (0, EXEC_LABEL),
        "{}",
        r.stderr
    );
    assert_eq!(hull.run(&["delete", "-f", &id]).code, 0);
    assert_no_leaks(&hull, &id, b.path());
}

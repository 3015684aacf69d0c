//! Which Linux security modules the host runs, read on the host (securityfs, selinuxfs)
//! before anything enters the container. A label the config names for a module that is
//! off is an error, as in runc, never dropped.

/// runc's test: securityfs shows AppArmor and the module says it is enabled.
pub fn apparmor_enabled() -> bool {
    std::path::Path::new("/sys/kernel/security/apparmor").exists()
        && std::fs::read("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|b| b.first() == Some(&b'Y'))
}

/// selinuxfs is mounted (the kernel has SELinux and a policy is loaded).
pub fn selinux_enabled() -> bool {
    std::path::Path::new("/sys/fs/selinux/enforce").exists()
}

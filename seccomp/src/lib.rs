//! OCI `linux.seccomp` -> classic BPF, compiled in Rust, with no libseccomp.
//!
//! Why our own compiler: `seccompiler` builds filters with one match action per filter and
//! a single mismatch action, while an OCI profile gives every rule its own action and errno
//! (ERRNO(1) for one syscall, ERRNO(38) for another, LOG or KILL for a third), plus
//! per-architecture syscall numbers and 64-bit argument comparisons. This crate emits the
//! program itself: an architecture check, one block per syscall (conditional rules first,
//! then the unconditional one), the default action last.
//!
//! The program is compiled in the runtime before clone (part of the Plan) and loaded by
//! the child with [`load`] just before execve.

mod asm;
pub mod bpf;
mod tables;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

use asm::{Asm, Cond, CondOp};
pub use bpf::{Insn, SeccompData};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("seccomp: {0}")]
    Invalid(String),
    #[error("seccomp: {0} is not supported yet")]
    Unsupported(String),
}

pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const RET_KILL_THREAD: u32 = 0;
pub const RET_TRAP: u32 = 0x0003_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;
pub const RET_TRACE: u32 = 0x7ff0_0000;
pub const RET_LOG: u32 = 0x7ffc_0000;
pub const RET_ALLOW: u32 = 0x7fff_0000;

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// A compiled filter and the flags to load it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub filter: Vec<Insn>,
    pub flags: u32,
}

fn action(a: LinuxSeccompAction, errno: Option<u32>) -> Result<u32, Error> {
    use LinuxSeccompAction::*;
    let data = errno.unwrap_or(libc::EPERM as u32) & 0xffff;
    Ok(match a {
        ScmpActKill | ScmpActKillThread => RET_KILL_THREAD,
        ScmpActKillProcess => RET_KILL_PROCESS,
        ScmpActTrap => RET_TRAP,
        ScmpActErrno => RET_ERRNO | data,
        ScmpActTrace => RET_TRACE | data,
        ScmpActLog => RET_LOG,
        ScmpActAllow => RET_ALLOW,
        ScmpActNotify => return Err(Error::Unsupported("SCMP_ACT_NOTIFY".into())),
    })
}

/// The syscall table of one architecture this host can run.
struct ArchTable {
    audit: u32,
    table: &'static [(&'static str, u32)],
    /// 32-bit ABI: only the low half of each argument is meaningful.
    args32: bool,
}

fn lookup(t: &ArchTable, name: &str) -> Option<u32> {
    t.table
        .binary_search_by(|(n, _)| n.cmp(&name))
        .ok()
        .map(|i| t.table[i].1)
}

/// One rule as compiled: its conditions (ANDed) and what it returns.
struct Rule {
    conds: Vec<Cond>,
    ret: u32,
}

fn condition(a: &oci_spec::runtime::LinuxSeccompArg, args32: bool) -> Cond {
    use LinuxSeccompOperator::*;
    let op = match a.op() {
        ScmpCmpNe => CondOp::Ne,
        ScmpCmpLt => CondOp::Lt,
        ScmpCmpLe => CondOp::Le,
        ScmpCmpEq => CondOp::Eq,
        ScmpCmpGe => CondOp::Ge,
        ScmpCmpGt => CondOp::Gt,
        ScmpCmpMaskedEq => CondOp::MaskedEq,
    };
    Cond {
        index: a.index() as u8,
        op,
        value: a.value(),
        value_two: a.value_two().unwrap_or(0),
        args32,
    }
}

/// The rules of one syscall number, in the order they are checked.
fn rules_for(profile: &LinuxSeccomp, t: &ArchTable) -> Result<Vec<(u32, Vec<Rule>)>, Error> {
    let mut groups: Vec<(u32, Vec<Rule>)> = Vec::new();
    for (ri, s) in profile.syscalls().iter().flatten().enumerate() {
        let ret = action(s.action(), s.errno_ret())?;
        let args = s.args().clone().unwrap_or_default();
        for a in &args {
            if a.index() > 5 {
                return Err(Error::Invalid(format!(
                    "syscalls[{ri}]: argument index {} is above 5",
                    a.index()
                )));
            }
        }
        // Several conditions on the same argument are alternatives (as runc passes them to
        // libseccomp: one rule each); on different arguments they must all hold.
        let same_index = args.len() > 1 && args.iter().all(|a| a.index() == args[0].index());
        let alternatives: Vec<Vec<Cond>> = if same_index {
            args.iter().map(|a| vec![condition(a, t.args32)]).collect()
        } else {
            vec![args.iter().map(|a| condition(a, t.args32)).collect()]
        };
        for name in s.names() {
            // Names this architecture lacks are skipped, as runc does.
            let Some(nr) = lookup(t, name) else { continue };
            let group = match groups.iter_mut().position(|(n, _)| *n == nr) {
                Some(i) => &mut groups[i].1,
                None => {
                    groups.push((nr, Vec::new()));
                    &mut groups.last_mut().expect("just pushed").1
                }
            };
            for conds in &alternatives {
                group.push(Rule {
                    conds: conds.clone(),
                    ret,
                });
            }
        }
    }
    // Conditional rules are tried before the unconditional one, which is the fallback.
    for (_, rules) in &mut groups {
        rules.sort_by_key(|r| r.conds.is_empty());
    }
    Ok(groups)
}

fn emit_arch(asm: &mut Asm, groups: &[(u32, Vec<Rule>)], default: u32) {
    asm.load_nr();
    for (nr, rules) in groups {
        let next = asm.label();
        asm.jump_if_ne(*nr, next);
        for r in rules {
            let fail = asm.label();
            for c in &r.conds {
                asm.cond(c, fail);
            }
            asm.ret(r.ret);
            asm.bind(fail);
            if r.conds.is_empty() {
                break;
            }
        }
        asm.ret(default);
        asm.bind(next);
    }
    asm.ret(default);
}

/// Compiles an OCI profile for this host (x86_64, with its i386 and x32 ABIs).
pub fn compile(profile: &LinuxSeccomp) -> Result<Program, Error> {
    let default = action(profile.default_action(), profile.default_errno_ret())?;
    let mut archs: Vec<Arch> = profile.architectures().clone().unwrap_or_default();
    if archs.is_empty() || archs.contains(&Arch::ScmpArchNative) {
        archs.push(Arch::ScmpArchX86_64);
    }
    let want = |a: Arch| archs.contains(&a);
    let x86_64 = ArchTable {
        audit: AUDIT_ARCH_X86_64,
        table: tables::X86_64,
        args32: false,
    };
    let x32 = ArchTable {
        audit: AUDIT_ARCH_X86_64,
        table: tables::X32,
        args32: false,
    };
    let i386 = ArchTable {
        audit: AUDIT_ARCH_I386,
        table: tables::X86,
        args32: true,
    };
    // Any other architecture of the profile can never reach this host's kernel.

    let mut asm = Asm::default();
    let bad_arch = RET_KILL_PROCESS;
    asm.load_arch();
    let l64 = asm.label();
    let l386 = asm.label();
    if want(Arch::ScmpArchX86_64) || want(Arch::ScmpArchX32) {
        asm.jump_far_if(bpf::JMP_JEQ_K, x86_64.audit, l64);
    }
    if want(Arch::ScmpArchX86) {
        asm.jump_far_if(bpf::JMP_JEQ_K, i386.audit, l386);
    }
    asm.ret(bad_arch);

    if want(Arch::ScmpArchX86_64) || want(Arch::ScmpArchX32) {
        asm.bind(l64);
        // x32 syscalls come with AUDIT_ARCH_X86_64 and the x32 bit set in the number.
        let lx32 = asm.label();
        asm.load_nr();
        asm.jump_far_if(bpf::JMP_JGE_K, X32_SYSCALL_BIT, lx32);
        if want(Arch::ScmpArchX86_64) {
            emit_arch(&mut asm, &rules_for(profile, &x86_64)?, default);
        } else {
            asm.ret(bad_arch);
        }
        asm.bind(lx32);
        if want(Arch::ScmpArchX32) {
            emit_arch(&mut asm, &rules_for(profile, &x32)?, default);
        } else {
            asm.ret(bad_arch);
        }
    }
    if want(Arch::ScmpArchX86) {
        asm.bind(l386);
        emit_arch(&mut asm, &rules_for(profile, &i386)?, default);
    }
    let filter = asm.finish()?;
    if filter.len() > 4096 {
        return Err(Error::Invalid(format!(
            "the compiled filter has {} instructions, above the kernel's 4096",
            filter.len()
        )));
    }
    let mut flags = 0;
    for f in profile.flags().iter().flatten() {
        flags |= match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => 1,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => 2,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => 4,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => 32,
        };
    }
    Ok(Program { filter, flags })
}

/// Installs the filter on the calling thread (needs no_new_privs or CAP_SYS_ADMIN).
pub fn load(p: &Program) -> Result<(), std::io::Error> {
    #[repr(C)]
    struct SockFprog {
        len: u16,
        filter: *const Insn,
    }
    let prog = SockFprog {
        len: p.filter.len() as u16,
        filter: p.filter.as_ptr(),
    };
    // SAFETY: a valid program that outlives the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            1, /* SECCOMP_SET_MODE_FILTER */
            p.flags,
            &prog as *const SockFprog,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests;

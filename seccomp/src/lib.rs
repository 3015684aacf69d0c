//! OCI `linux.seccomp` -> classic BPF, compiled in Rust, with no libseccomp.
//!
//! Why our own compiler: `seccompiler` builds filters with one match action per filter and
//! a single mismatch action, while an OCI profile gives every rule its own action and errno,
//! plus per-architecture syscall numbers and 64-bit argument comparisons.
//!
//! What a profile means is what runc makes of it with libseccomp, and [`compile`] matches
//! that: rules whose action is the default one are dropped; for each syscall the first
//! unconditional rule wins over everything else; conditional rules are merged as
//! libseccomp's rule tree merges them (identical conditions with different actions are an
//! error; where several match, the one libseccomp checks first wins); unknown syscall
//! names are skipped; the native architecture is always filtered; numbers above the last
//! syscall the profile names get ENOSYS (runc's stub, so that libcs fall back from
//! syscalls newer than the profile).
//!
//! The program: a check of the architecture, then per architecture a binary search over
//! ranges of syscall numbers that share a result (so a profile that allows 350 syscalls
//! costs one comparison per gap, not one per syscall), with the argument checks of the
//! syscalls that have them.
//!
//! It is compiled in the runtime before clone (part of the Plan) and loaded by the child
//! with [`load`] just before execve.

mod asm;
pub mod bpf;
mod syscalls;
#[rustfmt::skip] // generated: seccomp/gen-tables.sh --check compares it byte for byte
mod tables;

use std::os::fd::{FromRawFd, OwnedFd};

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator,
};

use asm::{Asm, Cond, CondOp, Target};
pub use bpf::{Insn, SeccompData};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("seccomp: {0}")]
    Invalid(String),
    #[error("seccomp: {0} is not supported")]
    Unsupported(String),
}

pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const RET_KILL_THREAD: u32 = 0;
pub const RET_TRAP: u32 = 0x0003_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;
pub const RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub const RET_TRACE: u32 = 0x7ff0_0000;
pub const RET_LOG: u32 = 0x7ffc_0000;
pub const RET_ALLOW: u32 = 0x7fff_0000;

/// What a syscall of an architecture the profile does not list gets: libseccomp's default
/// bad-architecture action (SCMP_ACT_KILL, the thread), which runc keeps.
pub const RET_BAD_ARCH: u32 = RET_KILL_THREAD;

/// `seccomp(SECCOMP_SET_MODE_FILTER)` flags.
pub const FLAG_LOG: u32 = 1 << 1;
pub const FLAG_SPEC_ALLOW: u32 = 1 << 2;
pub const FLAG_NEW_LISTENER: u32 = 1 << 3;
pub const FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;

/// Syscalls that may not be SCMP_ACT_NOTIFY: the runtime makes them after loading the
/// filter to hand the listener over, and would wait for an agent that has not got it.
/// runc refuses `write` (its child writes the fd's number, the parent takes it with
/// pidfd_getfd); `sendmsg` is here for a runtime that passes the fd with SCM_RIGHTS.
pub const NOTIFY_FORBIDDEN: &[&str] = &["write", "sendmsg"];

const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const ENOSYS: u32 = RET_ERRNO | libc::ENOSYS as u32;

/// A compiled filter, the flags to load it with, and what the runtime may want to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub filter: Vec<Insn>,
    pub flags: u32,
    /// Syscall names of the profile that no compiled architecture knows (runc logs them
    /// at debug level and goes on).
    pub unknown_syscalls: Vec<String>,
    /// Architectures of the profile left out: no table here, and never the host's.
    pub skipped_archs: Vec<Arch>,
}

impl Program {
    /// True when the filter has SCMP_ACT_NOTIFY rules: [`load`] then returns the listener.
    pub fn needs_listener(&self) -> bool {
        self.flags & FLAG_NEW_LISTENER != 0
    }
}

/// The architecture hull is built for: what SCMP_ARCH_NATIVE and an empty list mean.
pub const NATIVE: Option<Arch> = native();

const fn native() -> Option<Arch> {
    use Arch::*;
    let be = cfg!(target_endian = "big");
    let p32 = cfg!(target_pointer_width = "32");
    if cfg!(target_arch = "x86_64") {
        Some(if p32 { ScmpArchX32 } else { ScmpArchX86_64 })
    } else if cfg!(target_arch = "x86") {
        Some(ScmpArchX86)
    } else if cfg!(target_arch = "aarch64") {
        Some(ScmpArchAarch64)
    } else if cfg!(target_arch = "arm") {
        Some(ScmpArchArm)
    } else if cfg!(target_arch = "riscv64") {
        Some(ScmpArchRiscv64)
    } else if cfg!(target_arch = "powerpc64") {
        Some(if be { ScmpArchPpc64 } else { ScmpArchPpc64le })
    } else if cfg!(target_arch = "powerpc") {
        Some(ScmpArchPpc)
    } else if cfg!(target_arch = "s390x") {
        Some(ScmpArchS390x)
    } else if cfg!(target_arch = "mips") {
        Some(if be { ScmpArchMips } else { ScmpArchMipsel })
    } else if cfg!(target_arch = "mips64") {
        Some(match (be, p32) {
            (true, false) => ScmpArchMips64,
            (true, true) => ScmpArchMips64n32,
            (false, false) => ScmpArchMipsel64,
            (false, true) => ScmpArchMipsel64n32,
        })
    } else if cfg!(target_arch = "loongarch64") {
        Some(ScmpArchLoongarch64)
    } else {
        None
    }
}

/// One syscall ABI: its audit value, numbers and argument layout.
#[derive(Clone, Copy)]
struct Abi {
    arch: Arch,
    audit: u32,
    table: &'static syscalls::Table,
    /// 32-bit ABI: libseccomp compares only the low half of each argument.
    args32: bool,
    big_endian: bool,
    /// The numbers this ABI owns under its audit value (x86_64 and x32 share one).
    first: u32,
    last: u32,
}

fn abi(a: Arch) -> Result<Option<Abi>, Error> {
    use tables::*;
    use Arch::*;
    let mk = |audit, table, args32, big_endian| Abi {
        arch: a,
        audit,
        table,
        args32,
        big_endian,
        first: 0,
        last: u32::MAX,
    };
    Ok(Some(match a {
        ScmpArchX86_64 => Abi {
            last: X32_SYSCALL_BIT - 1,
            ..mk(AUDIT_ARCH_X86_64, &X86_64, false, false)
        },
        ScmpArchX32 => Abi {
            first: X32_SYSCALL_BIT,
            ..mk(AUDIT_ARCH_X86_64, &X32, true, false)
        },
        ScmpArchX86 => mk(AUDIT_ARCH_I386, &X86, true, false),
        ScmpArchAarch64 => mk(0xc000_00b7, &AARCH64, false, false),
        ScmpArchArm => mk(0x4000_0028, &ARM, true, false),
        ScmpArchRiscv64 => mk(0xc000_00f3, &RISCV64, false, false),
        ScmpArchPpc64le => mk(0xc000_0015, &PPC64, false, false),
        ScmpArchPpc64 => mk(0x8000_0015, &PPC64, false, true),
        ScmpArchPpc => mk(0x0000_0014, &PPC, true, true),
        ScmpArchS390x => mk(0x8000_0016, &S390X, false, true),
        ScmpArchS390 => mk(0x0000_0016, &S390, true, true),
        ScmpArchMips => mk(0x0000_0008, &MIPS_O32, true, true),
        ScmpArchMipsel => mk(0x4000_0008, &MIPS_O32, true, false),
        ScmpArchMips64 => mk(0x8000_0008, &MIPS_N64, false, true),
        ScmpArchMipsel64 => mk(0xc000_0008, &MIPS_N64, false, false),
        ScmpArchMips64n32 => mk(0xa000_0008, &MIPS_N32, true, true),
        ScmpArchMipsel64n32 => mk(0xe000_0008, &MIPS_N32, true, false),
        // Known to runc and libseccomp, but Debian ships no headers for it to build from.
        ScmpArchLoongarch64 => return Ok(None),
        ScmpArchParisc | ScmpArchParisc64 | ScmpArchM68k | ScmpArchSh | ScmpArchSheb => {
            return Err(Error::Unsupported(format!(
                "architecture {a} (runc refuses it too)"
            )))
        }
        ScmpArchNative => unreachable!("resolved by the caller"),
    }))
}

fn lookup(t: &syscalls::Table, name: &str) -> Option<u32> {
    t.get(name)
}

fn action(a: LinuxSeccompAction, errno: Option<u32>, what: &str) -> Result<u32, Error> {
    use LinuxSeccompAction::*;
    // errnoRet only means something to ERRNO and TRACE; runc ignores it elsewhere.
    let data = match a {
        ScmpActErrno | ScmpActTrace => errno.unwrap_or(libc::EPERM as u32),
        _ => 0,
    };
    if data > 0xffff {
        return Err(Error::Invalid(format!(
            "{what}: errno {data} does not fit the 16 bits of a seccomp return"
        )));
    }
    Ok(match a {
        ScmpActKill | ScmpActKillThread => RET_KILL_THREAD,
        ScmpActKillProcess => RET_KILL_PROCESS,
        ScmpActTrap => RET_TRAP,
        ScmpActErrno => RET_ERRNO | data,
        ScmpActTrace => RET_TRACE | data,
        ScmpActLog => RET_LOG,
        ScmpActAllow => RET_ALLOW,
        ScmpActNotify => RET_USER_NOTIF,
    })
}

/// One rule of the profile, checked and split as runc hands it to libseccomp.
struct Rule<'a> {
    index: usize,
    names: &'a [String],
    ret: u32,
    /// Alternatives, each a list of conditions that must all hold. runc turns a rule with
    /// two conditions on one argument into one rule per condition (libseccomp takes one
    /// condition per argument), which makes them alternatives.
    alternatives: Vec<Vec<&'a LinuxSeccompArg>>,
}

fn rules(profile: &LinuxSeccomp) -> Result<Vec<Rule<'_>>, Error> {
    let mut out = Vec::new();
    for (i, s) in profile.syscalls().iter().flatten().enumerate() {
        let what = format!("syscalls[{i}]");
        let ret = action(s.action(), s.errno_ret(), &what)?;
        if s.names().iter().any(|n| n.is_empty()) {
            return Err(Error::Invalid(format!("{what}: an empty syscall name")));
        }
        if ret == RET_USER_NOTIF {
            if let Some(n) = s
                .names()
                .iter()
                .find(|n| NOTIFY_FORBIDDEN.contains(&n.as_str()))
            {
                // runc's words; the runtime needs it to hand the listener over.
                return Err(Error::Invalid(format!(
                    "{what}: SCMP_ACT_NOTIFY cannot be used for the {n} syscall"
                )));
            }
        }
        let args: Vec<&LinuxSeccompArg> = s.args().iter().flatten().collect();
        if let Some(a) = args.iter().find(|a| a.index() > 5) {
            return Err(Error::Invalid(format!(
                "{what}: argument index {} is above 5 (syscalls have 6 arguments)",
                a.index()
            )));
        }
        let repeated = (0..6).any(|ix| args.iter().filter(|a| a.index() == ix).count() > 1);
        let alternatives = if repeated {
            args.iter().map(|a| vec![*a]).collect()
        } else {
            vec![args]
        };
        out.push(Rule {
            index: i,
            names: s.names(),
            ret,
            alternatives,
        });
    }
    Ok(out)
}

fn condition(a: &LinuxSeccompArg, abi: &Abi) -> Cond {
    use LinuxSeccompOperator::*;
    // A 32-bit ABI has only the low half: libseccomp truncates the operands.
    let v = |x: u64| if abi.args32 { x & 0xffff_ffff } else { x };
    let (op, value_two) = match a.op() {
        ScmpCmpNe => (CondOp::Ne, 0),
        ScmpCmpLt => (CondOp::Lt, 0),
        ScmpCmpLe => (CondOp::Le, 0),
        ScmpCmpEq => (CondOp::Eq, 0),
        ScmpCmpGe => (CondOp::Ge, 0),
        ScmpCmpGt => (CondOp::Gt, 0),
        ScmpCmpMaskedEq => (CondOp::MaskedEq, v(a.value_two().unwrap_or(0))),
    };
    Cond {
        index: a.index() as u8,
        op,
        value: v(a.value()),
        value_two,
        args32: abi.args32,
        big_endian: abi.big_endian,
    }
}

/// libseccomp's order of conditions on one level of its rule tree (`_db_chain_lt`): a
/// new node goes before the first one that is "less" than it, so higher argument indexes
/// are checked first, then NE, LT/LE, GT/GE, EQ/MASKED_EQ, then by operand.
fn chain_lt(a: &Cond, b: &Cond) -> bool {
    fn prio(op: CondOp) -> u8 {
        match op {
            CondOp::Ne => 3,
            CondOp::Lt | CondOp::Le => 2,
            CondOp::Gt | CondOp::Ge => 1,
            CondOp::Eq | CondOp::MaskedEq => 0,
        }
    }
    fn datum(c: &Cond) -> u64 {
        match c.op {
            CondOp::MaskedEq => c.value & c.value_two,
            _ => c.value,
        }
    }
    if a.index != b.index {
        return a.index < b.index;
    }
    if prio(a.op) != prio(b.op) {
        return prio(a.op) < prio(b.op);
    }
    match a.op {
        CondOp::Lt | CondOp::Le => datum(a) > datum(b),
        _ => datum(a) < datum(b),
    }
}

/// A node of a syscall's rule tree: a condition, then either an action or more conditions.
struct Node {
    cond: Cond,
    /// The action and the rule it came from.
    end: Option<(u32, usize)>,
    children: Vec<Node>,
}

/// The rule (if any) in `nodes` whose action is not `ret`.
fn other_action(nodes: &[Node], ret: u32) -> Option<usize> {
    nodes.iter().find_map(|n| match n.end {
        Some((r, rule)) if r != ret => Some(rule),
        Some(_) => None,
        None => other_action(&n.children, ret),
    })
}

/// Adds a chain of conditions as libseccomp's `db_rule_add` does; on a conflict, returns
/// the earlier rule it conflicts with.
fn add_chain(level: &mut Vec<Node>, chain: &[Cond], ret: u32, rule: usize) -> Result<(), usize> {
    let c = chain[0];
    let Some(n) = level.iter_mut().find(|n| n.cond == c) else {
        let mut node = Node {
            cond: c,
            end: None,
            children: Vec::new(),
        };
        if chain.len() == 1 {
            node.end = Some((ret, rule));
        } else {
            add_chain(&mut node.children, &chain[1..], ret, rule)?;
        }
        let at = level.iter().position(|x| chain_lt(&x.cond, &c));
        level.insert(at.unwrap_or(level.len()), node);
        return Ok(());
    };
    match (n.end, chain.len()) {
        // Identical conditions: the actions must agree.
        (Some((r, earlier)), 1) if r != ret => Err(earlier),
        // An existing shorter chain already covers the new one, whatever its action.
        (Some(_), _) => Ok(()),
        // A shorter chain replaces longer ones, if they all have its action.
        (None, 1) => match other_action(&n.children, ret) {
            Some(earlier) => Err(earlier),
            None => {
                n.children.clear();
                n.end = Some((ret, rule));
                Ok(())
            }
        },
        (None, _) => add_chain(&mut n.children, &chain[1..], ret, rule),
    }
}

/// What the rules make of one syscall number on one ABI.
#[derive(Default)]
struct Syscall {
    /// The first unconditional rule: it wins over every other rule of the syscall.
    unconditional: Option<u32>,
    tree: Vec<Node>,
}

/// A range of syscall numbers and what they get.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Leaf {
    Ret(u32),
    Rules(usize),
}

struct AbiRules {
    /// By number, ascending.
    syscalls: Vec<(u32, Syscall)>,
    /// The highest number of any name in the profile (runc's ENOSYS stub starts above).
    last_named: Option<u32>,
}

#[cfg(test)]
impl AbiRules {
    fn get(&self, nr: u32) -> Option<&Syscall> {
        let i = self.syscalls.binary_search_by_key(&nr, |s| s.0).ok()?;
        Some(&self.syscalls[i].1)
    }
}

/// The rules of one ABI by syscall number. `known` marks the names it has (by rule, name).
fn abi_rules(
    abi: &Abi,
    rules: &[Rule],
    default: u32,
    known: &mut [Vec<bool>],
) -> Result<AbiRules, Error> {
    // Every (number, rule, name) in profile order, then grouped by number (stable sort).
    let mut hits: Vec<(u32, usize, &str)> = Vec::new();
    for (ri, r) in rules.iter().enumerate() {
        for (ni, name) in r.names.iter().enumerate() {
            if let Some(nr) = lookup(abi.table, name) {
                known[ri][ni] = true;
                hits.push((nr, ri, name));
            }
        }
    }
    let last_named = hits.iter().map(|h| h.0).max();
    hits.sort_by_key(|h| h.0);
    let mut syscalls: Vec<(u32, Syscall)> = Vec::new();
    for (nr, ri, name) in hits {
        let r = &rules[ri];
        // libseccomp refuses a rule with the default action; runc drops it first.
        if r.ret == default {
            continue;
        }
        if syscalls.last().is_none_or(|s| s.0 != nr) {
            syscalls.push((nr, Syscall::default()));
        }
        let s = &mut syscalls.last_mut().expect("just pushed").1;
        for alt in &r.alternatives {
            if s.unconditional.is_some() {
                // libseccomp keeps an unconditional rule and ignores what follows.
                break;
            }
            let mut chain: Vec<Cond> = alt
                .iter()
                .map(|a| condition(a, abi))
                .filter(|c| !c.is_noop())
                .collect();
            chain.sort_by_key(|c| c.index);
            if chain.is_empty() {
                s.unconditional = Some(r.ret);
            } else if let Err(earlier) = add_chain(&mut s.tree, &chain, r.ret, r.index) {
                return Err(Error::Invalid(format!(
                    "syscalls[{}]: the conditions on {name} ({}) overlap those of \
                     syscalls[{earlier}] with another action; libseccomp refuses that",
                    r.index, abi.arch
                )));
            }
        }
    }
    Ok(AbiRules {
        syscalls,
        last_named,
    })
}

/// The ranges of one ABI's numbers, each with its result, as (first number, leaf); a
/// syscall with argument checks is `Leaf::Rules(its index in r.syscalls)`.
fn ranges(abi: &Abi, r: &AbiRules, default: u32, stub: bool) -> Vec<(u32, Leaf)> {
    // runc's stub: ENOSYS above the last syscall the profile names, and for s390's
    // syscall 0 (the multiplexer).
    let (enosys_from, enosys_zero) = match (stub, r.last_named) {
        (true, Some(last)) => (
            last.checked_add(1).filter(|&n| n <= abi.last),
            matches!(abi.arch, Arch::ScmpArchS390 | Arch::ScmpArchS390x),
        ),
        _ => (None, false),
    };
    let mut out = vec![(abi.first, Leaf::Ret(default))];
    let mut put = |start: u32, leaf: Leaf| match out.last_mut() {
        Some(l) if l.0 == start => l.1 = leaf,
        _ => out.push((start, leaf)),
    };
    if enosys_zero {
        put(0, Leaf::Ret(ENOSYS));
        put(1, Leaf::Ret(default));
    }
    for (i, (nr, s)) in r.syscalls.iter().enumerate() {
        put(
            *nr,
            match s.unconditional {
                Some(ret) => Leaf::Ret(ret),
                None => Leaf::Rules(i),
            },
        );
        if *nr < abi.last {
            put(nr + 1, Leaf::Ret(default));
        }
    }
    if let Some(n) = enosys_from {
        put(n, Leaf::Ret(ENOSYS));
    }
    out
}

/// Emits the syscall's rule tree; anything no rule matches gets the default action.
fn emit_tree(asm: &mut Asm, nodes: &[Node], fail: Target) -> Target {
    let mut next = fail;
    for n in nodes.iter().rev() {
        // A deeper level that does not match goes on with this node's next sibling,
        // as libseccomp's program does.
        let ok = match n.end {
            Some((ret, _)) => Target::Ret(ret),
            None => emit_tree(asm, &n.children, next),
        };
        next = asm.cond(&n.cond, ok, next);
    }
    next
}

/// A binary search over the ranges: one `jge` per boundary.
fn emit_search(asm: &mut Asm, ranges: &[(u32, Target)]) -> Target {
    if ranges.len() == 1 {
        return ranges[0].1;
    }
    let mid = ranges.len() / 2;
    let right = emit_search(asm, &ranges[mid..]);
    let left = emit_search(asm, &ranges[..mid]);
    Target::At(asm.jump(bpf::JMP_JGE_K, ranges[mid].0, right, left, Some(0)))
}

/// Compiles an OCI profile for the architecture hull is built for ([`NATIVE`]).
pub fn compile(profile: &LinuxSeccomp) -> Result<Program, Error> {
    let native = NATIVE.ok_or_else(|| Error::Unsupported("this build's architecture".into()))?;
    compile_for(profile, native)
}

/// Compiles an OCI profile for a host of architecture `native`: every architecture the
/// profile lists, and `native` always (libseccomp's filters always include it).
pub fn compile_for(profile: &LinuxSeccomp, native: Arch) -> Result<Program, Error> {
    use LinuxSeccompAction::*;
    if profile.default_action() == ScmpActNotify {
        return Err(Error::Invalid(
            "defaultAction SCMP_ACT_NOTIFY: the runtime could not hand the listener over \
             (runc refuses it too)"
                .into(),
        ));
    }
    let default = action(
        profile.default_action(),
        profile.default_errno_ret(),
        "defaultErrnoRet",
    )?;
    let rules = rules(profile)?;

    let native = match native {
        Arch::ScmpArchNative => NATIVE.ok_or_else(|| Error::Unsupported("native".into()))?,
        a => a,
    };
    let native_abi =
        abi(native)?.ok_or_else(|| Error::Unsupported(format!("{native} (no syscall table)")))?;
    let mut archs = vec![native];
    for &a in profile.architectures().iter().flatten() {
        let a = if a == Arch::ScmpArchNative { native } else { a };
        if !archs.contains(&a) {
            archs.push(a);
        }
    }
    let (mut abis, mut skipped_archs) = (Vec::new(), Vec::new());
    for a in archs {
        match abi(a)? {
            Some(x) if x.big_endian != native_abi.big_endian => {
                return Err(Error::Unsupported(format!(
                    "{a} with {native}: their byte orders differ, and libseccomp (so runc) \
                     refuses to mix them"
                )))
            }
            Some(x) => abis.push(x),
            None => skipped_archs.push(a),
        }
    }

    let mut known: Vec<Vec<bool>> = rules.iter().map(|r| vec![false; r.names.len()]).collect();

    // runc adds its ENOSYS stub unless the default already lets syscalls through.
    let stub = !matches!(
        profile.default_action(),
        ScmpActAllow | ScmpActLog | ScmpActTrace
    );

    let mut asm = Asm::default();
    asm.ret(default);
    // Each audit value's code, in reverse (the program is built from its end).
    let mut audits: Vec<u32> = Vec::new();
    for a in &abis {
        if !audits.contains(&a.audit) {
            audits.push(a.audit);
        }
    }
    let mut entries = Vec::new();
    for &audit in audits.iter().rev() {
        let group: Vec<&Abi> = abis.iter().filter(|a| a.audit == audit).collect();
        let mut leaves: Vec<(u32, Leaf)> = Vec::new();
        let mut trees: Vec<Vec<Node>> = Vec::new();
        if audit == AUDIT_ARCH_X86_64 {
            // x32 syscalls come with x86_64's audit value and the x32 bit in the number.
            let find = |arch| group.iter().find(|a| a.arch == arch);
            for (arch, first) in [
                (Arch::ScmpArchX86_64, 0),
                (Arch::ScmpArchX32, X32_SYSCALL_BIT),
            ] {
                match find(arch) {
                    Some(a) => {
                        let r = abi_rules(a, &rules, default, &mut known)?;
                        let base = trees.len();
                        leaves.extend(ranges(a, &r, default, stub).into_iter().map(
                            |(n, l)| match l {
                                Leaf::Rules(i) => (n, Leaf::Rules(base + i)),
                                l => (n, l),
                            },
                        ));
                        trees.extend(r.syscalls.into_iter().map(|s| s.1.tree));
                    }
                    None => leaves.push((first, Leaf::Ret(RET_BAD_ARCH))),
                }
            }
            // libseccomp lets syscall -1 (a tracer skipping a syscall) through to the rules.
            if find(Arch::ScmpArchX32).is_none() {
                leaves.push((u32::MAX, Leaf::Ret(default)));
            }
        } else {
            let a = group[0];
            let r = abi_rules(a, &rules, default, &mut known)?;
            leaves = ranges(a, &r, default, stub);
            trees.extend(r.syscalls.into_iter().map(|s| s.1.tree));
        }
        // The argument checks first (they come last in the program), then the search.
        let mut targets: Vec<(u32, Target)> = Vec::new();
        for (first, leaf) in leaves.iter().rev() {
            let t = match *leaf {
                Leaf::Ret(k) => Target::Ret(k),
                Leaf::Rules(i) => emit_tree(&mut asm, &trees[i], Target::Ret(default)),
            };
            targets.push((*first, t));
        }
        targets.reverse();
        targets.dedup_by(|b, a| a.1 == b.1 && matches!(a.1, Target::Ret(_)));
        // The search's root was emitted last: the load of the number falls through to it.
        let root = emit_search(&mut asm, &targets);
        let entry = if targets.len() > 1 {
            Target::At(asm.load(0))
        } else {
            root
        };
        entries.push((audit, entry));
    }
    let mut next = Target::Ret(RET_BAD_ARCH);
    for (audit, entry) in entries {
        next = Target::At(asm.jump(bpf::JMP_JEQ_K, audit, entry, next, Some(4)));
    }
    asm.load(4);

    let filter = asm.finish();
    let mut unknown_syscalls: Vec<String> = Vec::new();
    for (r, k) in rules.iter().zip(&known) {
        for (n, _) in r.names.iter().zip(k).filter(|(_, k)| !**k) {
            if !unknown_syscalls.contains(n) {
                unknown_syscalls.push(n.clone());
            }
        }
    }
    if filter.len() > 4096 {
        return Err(Error::Invalid(format!(
            "the compiled filter has {} instructions, above the kernel's 4096",
            filter.len()
        )));
    }

    // No `flags` at all: runc's default, SPEC_ALLOW (the filter does not force Spectre
    // mitigations on the container); `[]` means none. `load` drops it where unknown.
    let mut flags = match profile.flags() {
        None => FLAG_SPEC_ALLOW,
        Some(_) => 0,
    };
    let mut wait_killable = false;
    for f in profile.flags().iter().flatten() {
        match f {
            // The child is single-threaded, and the kernel refuses TSYNC with a listener;
            // runc ignores it too.
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => {}
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => flags |= FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => flags |= FLAG_SPEC_ALLOW,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => wait_killable = true,
        }
    }
    if rules.iter().any(|r| r.ret == RET_USER_NOTIF) {
        flags |= FLAG_NEW_LISTENER;
        // The kernel takes this flag only with a listener (libseccomp adds it likewise).
        if wait_killable {
            flags |= FLAG_WAIT_KILLABLE_RECV;
        }
    }
    Ok(Program {
        filter,
        flags,
        unknown_syscalls,
        skipped_archs,
    })
}

/// Installs the filter on the calling thread (needs no_new_privs or CAP_SYS_ADMIN). With
/// SCMP_ACT_NOTIFY rules ([`Program::needs_listener`]) it returns the listener fd.
pub fn load(p: &Program) -> std::io::Result<Option<OwnedFd>> {
    let r = match set_filter(&p.filter, p.flags) {
        // A flag this kernel does not know (LOG before 4.14, SPEC_ALLOW before 4.17,
        // WAIT_KILLABLE_RECV before 5.19) is dropped, as runc does: the filter matters,
        // these only refine it.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            let unknown = [FLAG_LOG, FLAG_SPEC_ALLOW, FLAG_WAIT_KILLABLE_RECV]
                .into_iter()
                .filter(|&f| p.flags & f != 0 && !kernel_knows_flag(f))
                .fold(0, |acc, f| acc | f);
            if unknown == 0 {
                return Err(e);
            }
            set_filter(&p.filter, p.flags & !unknown)?
        }
        r => r?,
    };
    if p.needs_listener() {
        // SAFETY: with NEW_LISTENER the kernel returns a new fd that is ours alone.
        return Ok(Some(unsafe { OwnedFd::from_raw_fd(r as i32) }));
    }
    Ok(None)
}

fn set_filter(filter: &[Insn], flags: u32) -> std::io::Result<libc::c_long> {
    #[repr(C)]
    struct SockFprog {
        len: u16,
        filter: *const Insn,
    }
    let prog = SockFprog {
        len: filter.len() as u16,
        filter: filter.as_ptr(),
    };
    // SAFETY: a valid program that outlives the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            1, /* SECCOMP_SET_MODE_FILTER */
            flags,
            &prog as *const SockFprog,
        )
    };
    match r {
        r if r < 0 => Err(std::io::Error::last_os_error()),
        r => Ok(r),
    }
}

/// What this compiler takes, for `hull features`.
pub struct Features {
    /// Every action and operator of the spec (each is compiled).
    pub actions: Vec<LinuxSeccompAction>,
    pub operators: Vec<LinuxSeccompOperator>,
    /// The architectures with a syscall table.
    pub archs: Vec<Arch>,
    /// Flags a profile may ask for, and those of them this kernel takes (TSYNC is
    /// accepted and ignored, as runc does, so it counts as taken).
    pub known_flags: Vec<LinuxSeccompFilterFlag>,
    pub supported_flags: Vec<LinuxSeccompFilterFlag>,
}

pub fn features() -> Features {
    use Arch::*;
    use LinuxSeccompAction::*;
    use LinuxSeccompFilterFlag::*;
    use LinuxSeccompOperator::*;
    let all_archs = [
        ScmpArchNative,
        ScmpArchX86,
        ScmpArchX86_64,
        ScmpArchX32,
        ScmpArchArm,
        ScmpArchAarch64,
        ScmpArchMips,
        ScmpArchMips64,
        ScmpArchMips64n32,
        ScmpArchMipsel,
        ScmpArchMipsel64,
        ScmpArchMipsel64n32,
        ScmpArchPpc,
        ScmpArchPpc64,
        ScmpArchPpc64le,
        ScmpArchS390,
        ScmpArchS390x,
        ScmpArchParisc,
        ScmpArchParisc64,
        ScmpArchRiscv64,
        ScmpArchLoongarch64,
        ScmpArchM68k,
        ScmpArchSh,
        ScmpArchSheb,
    ];
    let known_flags = vec![
        SeccompFilterFlagTsync,
        SeccompFilterFlagLog,
        SeccompFilterFlagSpecAllow,
        SeccompFilterFlagWaitKillableRecv,
    ];
    let supported_flags = known_flags
        .iter()
        .filter(|f| match f {
            SeccompFilterFlagTsync => true,
            SeccompFilterFlagLog => kernel_knows_flag(FLAG_LOG),
            SeccompFilterFlagSpecAllow => kernel_knows_flag(FLAG_SPEC_ALLOW),
            SeccompFilterFlagWaitKillableRecv => kernel_knows_flag(FLAG_WAIT_KILLABLE_RECV),
        })
        .cloned()
        .collect();
    Features {
        actions: vec![
            ScmpActKill,
            ScmpActKillThread,
            ScmpActKillProcess,
            ScmpActTrap,
            ScmpActErrno,
            ScmpActTrace,
            ScmpActAllow,
            ScmpActLog,
            ScmpActNotify,
        ],
        operators: vec![
            ScmpCmpNe,
            ScmpCmpLt,
            ScmpCmpLe,
            ScmpCmpEq,
            ScmpCmpGe,
            ScmpCmpGt,
            ScmpCmpMaskedEq,
        ],
        archs: all_archs
            .into_iter()
            .filter(|&a| a == ScmpArchNative || matches!(abi(a), Ok(Some(_))))
            .collect(),
        known_flags,
        supported_flags,
    }
}

/// A flag the kernel knows makes a filter-less call fail with EFAULT (it reads the
/// program next); an unknown one fails with EINVAL first.
fn kernel_knows_flag(flag: u32) -> bool {
    // WAIT_KILLABLE_RECV alone is EINVAL anywhere: it goes with a listener.
    let flags = match flag {
        FLAG_WAIT_KILLABLE_RECV => flag | FLAG_NEW_LISTENER,
        f => f,
    };
    // SAFETY: a NULL program is never read: the call fails before or at reading it.
    let r = unsafe { libc::syscall(libc::SYS_seccomp, 1, flags, std::ptr::null::<u8>()) };
    r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT)
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;

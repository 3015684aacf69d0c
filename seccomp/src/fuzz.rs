//! Fuzzing the compiler on stable Rust: proptest makes OCI profiles (every action, arch,
//! flag and operator, syscall names real and not, argument values at the edges, hundreds
//! of rules), and checks that `compile` never panics, that its errors are one line, and
//! that every program it returns is one the kernel takes (`bpf::check`, at most 4096
//! instructions) and that runs to a `ret` on any `seccomp_data`, with a result the
//! profile can give; where a syscall has only unconditional rules, exactly the one the
//! first of them gives.
//!
//! Knobs (environment), as for the runtime's fuzz tests: `HULL_FUZZ_CASES`,
//! `HULL_FUZZ_SECONDS`, `HULL_FUZZ_SEED`. `integration/bench/fuzz.sh` runs it long.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

use super::*;
use crate::bpf::SeccompData;

const ACTIONS: &[&str] = &[
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
];

const ARCHS: &[&str] = &[
    "SCMP_ARCH_NATIVE",
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
    "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB",
];

const FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

/// Every comparison operator of the spec (also for the random profiles of tests.rs).
pub(crate) const OPS: &[&str] = &[
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];

const VALUES: &[u64] = &[
    0,
    1,
    2,
    0xff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_0005,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    u64::MAX,
    u64::MAX - 1,
];

const ERRNOS: &[u32] = &[0, 1, 13, 38, 0xffff, 0x1_0000, u32::MAX];

/// Names that mean something on some architecture, and some that do not.
fn names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = tables::X86_64
        .iter()
        .step_by(7)
        .chain(tables::X32.iter().step_by(31))
        .chain(tables::S390X.iter().step_by(41))
        .map(|(n, _)| n)
        .collect();
    v.extend([
        "read",
        "write",
        "sendmsg",
        "openat",
        "clone",
        "clone3",
        "personality",
        "socketcall",
        "ipc",
        "_newselect",
        "no_such_syscall",
        "READ",
        "",
        "a\nb",
    ]);
    v
}

fn arg() -> impl Strategy<Value = serde_json::Value> {
    (
        prop_oneof![4 => 0u64..6, 1 => 6u64..9],
        prop_oneof![3 => prop::sample::select(VALUES), 1 => any::<u64>()],
        prop::option::of(prop::sample::select(VALUES)),
        prop::sample::select(OPS),
    )
        .prop_map(|(index, value, two, op)| {
            let mut a = serde_json::json!({"index": index, "value": value, "op": op});
            if let Some(t) = two {
                a["valueTwo"] = t.into();
            }
            a
        })
}

fn rule() -> impl Strategy<Value = serde_json::Value> {
    (
        prop::collection::vec(prop::sample::select(names()), 0..4),
        prop::sample::select(ACTIONS),
        prop::option::of(prop::sample::select(ERRNOS)),
        prop_oneof![2 => Just(None), 1 => prop::option::of(prop::collection::vec(arg(), 0..4))],
    )
        .prop_map(|(names, action, errno, args)| {
            let mut r = serde_json::json!({"names": names, "action": action});
            if let Some(e) = errno {
                r["errnoRet"] = e.into();
            }
            if let Some(a) = args {
                r["args"] = a.into();
            }
            r
        })
}

fn profile() -> impl Strategy<Value = serde_json::Value> {
    (
        prop::sample::select(ACTIONS),
        prop::option::of(prop::sample::select(ERRNOS)),
        prop::option::of(prop::collection::vec(prop::sample::select(ARCHS), 0..4)),
        prop::option::of(prop::collection::vec(prop::sample::select(FLAGS), 0..3)),
        // Mostly a few rules; sometimes hundreds, for the 4096-instruction limit.
        prop_oneof![
            8 => prop::collection::vec(rule(), 0..12),
            1 => prop::collection::vec(rule(), 100..400),
        ],
    )
        .prop_map(|(default, errno, archs, flags, syscalls)| {
            let mut p = serde_json::json!({"defaultAction": default, "syscalls": syscalls});
            if let Some(e) = errno {
                p["defaultErrnoRet"] = e.into();
            }
            if let Some(a) = archs {
                p["architectures"] = a.into();
            }
            if let Some(f) = flags {
                p["flags"] = f.into();
            }
            p
        })
}

/// Hosts the compiler is asked to build for: both byte orders, 32 and 64 bits.
const HOSTS: &[Arch] = &[
    Arch::ScmpArchX86_64,
    Arch::ScmpArchAarch64,
    Arch::ScmpArchS390x,
    Arch::ScmpArchPpc64le,
    Arch::ScmpArchX86,
    Arch::ScmpArchMips,
];

fn audit_of(a: Arch) -> u32 {
    abi(a).ok().flatten().map_or(0, |x| x.audit)
}

fn data_cases() -> impl Strategy<Value = Vec<(u8, i32, u8, [u64; 6])>> {
    prop::collection::vec(
        (
            any::<u8>(),
            prop_oneof![
                any::<i32>(),
                0i32..500,
                Just(-1),
                (0i32..600).prop_map(|n| n | 0x4000_0000)
            ],
            any::<u8>(),
            prop::array::uniform6(prop_oneof![prop::sample::select(VALUES), any::<u64>()]),
        ),
        8,
    )
}

/// Profiles that compiled (the rest were refused, with a one-line error).
static COMPILED: AtomicU64 = AtomicU64::new(0);

fn check_profile(
    v: serde_json::Value,
    host: usize,
    data: Vec<(u8, i32, u8, [u64; 6])>,
) -> Result<(), TestCaseError> {
    let p: LinuxSeccomp = serde_json::from_value(v)
        .map_err(|e| TestCaseError::fail(format!("the generator made no profile: {e}")))?;
    let host = HOSTS[host % HOSTS.len()];
    let prog = match compile_for(&p, host) {
        Err(e) => {
            let msg = e.to_string();
            if msg.contains(['\n', '\r']) {
                return Err(TestCaseError::fail(format!("error not one line: {msg:?}")));
            }
            return Ok(());
        }
        Ok(prog) => prog,
    };
    COMPILED.fetch_add(1, Ordering::Relaxed);
    if prog.filter.len() > 4096 || !bpf::check(&prog.filter) {
        return Err(TestCaseError::fail(format!(
            "the kernel would refuse this program ({} instructions)",
            prog.filter.len()
        )));
    }
    let host_abi = abi(host).ok().flatten().expect("a host with a table");
    // Everything the program may answer.
    let default = action(p.default_action(), p.default_errno_ret(), "").expect("compiled");
    let mut possible = vec![default, RET_BAD_ARCH, ENOSYS];
    for s in p.syscalls().iter().flatten() {
        possible.push(action(s.action(), s.errno_ret(), "").expect("compiled"));
    }
    let mut audits = vec![host_abi.audit];
    for a in p.architectures().iter().flatten() {
        let a = if *a == Arch::ScmpArchNative { host } else { *a };
        audits.push(audit_of(a));
    }
    for (a, nr, name_pick, args) in data {
        let arch = match a % 4 {
            0 => u32::from(a) << 24 | u32::from(a),
            _ => audits[a as usize % audits.len()],
        };
        // Half the time, the number of a name of the profile on the host.
        let mut nr = nr;
        let mut name = None;
        if name_pick % 2 == 0 {
            let all: Vec<&String> = p
                .syscalls()
                .iter()
                .flatten()
                .flat_map(|s| s.names())
                .collect();
            if let Some(n) = all.get(name_pick as usize % all.len().max(1)) {
                if let Some(x) = lookup(host_abi.table, n) {
                    nr = x as i32;
                    name = Some(n.as_str());
                }
            }
        }
        let d = SeccompData {
            nr,
            arch,
            instruction_pointer: args[0],
            args,
        };
        let Some(ret) = bpf::run_on(&prog.filter, &d, host_abi.big_endian) else {
            return Err(TestCaseError::fail(format!(
                "the program did not run to a ret on {d:?}"
            )));
        };
        if !possible.contains(&ret) {
            return Err(TestCaseError::fail(format!(
                "{ret:#x} on {d:?} is no action of the profile"
            )));
        }
        // The oracle: a syscall whose rules (with another action than the default) have
        // no conditions gets the action of the first of them, whatever the arguments.
        let (Some(name), true) = (name, arch == host_abi.audit) else {
            continue;
        };
        if host == Arch::ScmpArchX86_64 && nr as u32 >= X32_SYSCALL_BIT {
            continue;
        }
        let rules: Vec<u32> = p
            .syscalls()
            .iter()
            .flatten()
            .filter(|s| s.names().iter().any(|n| n == name))
            .filter_map(|s| {
                let ret = action(s.action(), s.errno_ret(), "").expect("compiled");
                (ret != default).then_some((ret, s.args().as_ref().is_some_and(|a| !a.is_empty())))
            })
            .map(|(ret, conditional)| if conditional { u32::MAX } else { ret })
            .collect();
        let expected = match rules.first() {
            None => Some(default),
            Some(&u32::MAX) => None,
            Some(&r) if rules.iter().all(|x| *x != u32::MAX) => Some(r),
            Some(_) => None,
        };
        if let Some(expected) = expected {
            if ret != expected {
                return Err(TestCaseError::fail(format!(
                    "{name} (nr {nr}) got {ret:#x}, its rules say {expected:#x}"
                )));
            }
        }
    }
    Ok(())
}

fn env_num<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

#[test]
fn fuzz_compile() {
    const BATCH: u64 = 256;
    let seconds: Option<f64> = env_num("HULL_FUZZ_SECONDS");
    let cases: u64 = env_num("HULL_FUZZ_CASES").unwrap_or(300);
    let first_seed: u64 = env_num("HULL_FUZZ_SEED").unwrap_or_else(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(std::process::id() as u64);
        h.finish()
    });
    let start = Instant::now();
    let executed = Cell::new(0u64);
    let strategy = (profile(), 0..HOSTS.len(), data_cases());
    for batch in 0u64.. {
        let left = match seconds {
            Some(s) if start.elapsed().as_secs_f64() >= s => break,
            Some(_) => BATCH,
            None => cases.saturating_sub(executed.get()).min(BATCH),
        };
        if left == 0 {
            break;
        }
        let seed = first_seed.wrapping_add(batch.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut bytes = [0u8; 32];
        for (i, c) in bytes.chunks_mut(8).enumerate() {
            c.copy_from_slice(&seed.rotate_left(i as u32 * 16).to_le_bytes());
        }
        let config = Config {
            cases: left as u32,
            failure_persistence: None,
            max_shrink_iters: 4096,
            ..Config::default()
        };
        let mut runner =
            TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
        if let Err(e) = runner.run(&strategy, |(v, host, data)| {
            executed.set(executed.get() + 1);
            check_profile(v, host, data)
        }) {
            panic!(
                "fuzz seccomp: failure after {} executions; replay with HULL_FUZZ_SEED={seed} \
                 HULL_FUZZ_CASES={BATCH}: {e}",
                executed.get()
            );
        }
    }
    // Read by integration/bench/fuzz.sh.
    eprintln!(
        "fuzz seccomp: {} executions, 0 crashes, {:.1} s, seed {first_seed} ({} compiled)",
        executed.get(),
        start.elapsed().as_secs_f64(),
        COMPILED.load(Ordering::Relaxed)
    );
}

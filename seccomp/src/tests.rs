use super::*;
use crate::bpf::SeccompData;

fn profile(v: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(v).unwrap()
}

fn nr64(name: &str) -> i32 {
    lookup(&tables::X86_64, name).unwrap() as i32
}

fn call(p: &Program, arch: u32, nr: i32, args: [u64; 6]) -> u32 {
    call_on(p, arch, nr, args, false)
}

fn call_on(p: &Program, arch: u32, nr: i32, args: [u64; 6], big_endian: bool) -> u32 {
    assert!(bpf::check(&p.filter), "the kernel would refuse the program");
    let data = SeccompData {
        nr,
        arch,
        instruction_pointer: 0,
        args,
    };
    bpf::run_on(&p.filter, &data, big_endian).expect("valid program")
}

fn x64(p: &Program, name: &str, args: [u64; 6]) -> u32 {
    call(p, AUDIT_ARCH_X86_64, nr64(name), args)
}

fn err(v: serde_json::Value) -> String {
    compile(&profile(v)).unwrap_err().to_string()
}

#[test]
fn each_rule_has_its_own_action_and_errno() {
    let p = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["kill"], "action": "SCMP_ACT_KILL_PROCESS"},
            {"names": ["getpid"], "action": "SCMP_ACT_LOG"},
            {"names": ["getppid"], "action": "SCMP_ACT_TRAP"},
            {"names": ["no_such_syscall_name"], "action": "SCMP_ACT_ALLOW"}
        ]
    })))
    .unwrap();
    let z = [0; 6];
    assert_eq!(x64(&p, "read", z), RET_ALLOW);
    assert_eq!(x64(&p, "write", z), RET_ALLOW);
    assert_eq!(
        x64(&p, "getcwd", z),
        RET_ERRNO | 1,
        "ERRNO without errnoRet is EPERM"
    );
    assert_eq!(x64(&p, "mkdir", z), RET_ERRNO | 13);
    assert_eq!(x64(&p, "kill", z), RET_KILL_PROCESS);
    assert_eq!(x64(&p, "getpid", z), RET_LOG);
    assert_eq!(x64(&p, "getppid", z), RET_TRAP);
    assert_eq!(
        x64(&p, "openat", z),
        RET_ERRNO | 38,
        "default action with defaultErrnoRet"
    );
}

#[test]
fn argument_operators_on_64_bit_values() {
    let big = 0x1_0000_0005u64;
    let rule = |op: &str| {
        compile(&profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": big, "op": op}]}]
        })))
        .unwrap()
    };
    let denied = |p: &Program, v: u64| x64(p, "personality", [0, v, 0, 0, 0, 0]) != RET_ALLOW;
    type Case = (&'static str, fn(u64, u64) -> bool);
    let cases: [Case; 6] = [
        ("SCMP_CMP_EQ", |a, b| a == b),
        ("SCMP_CMP_NE", |a, b| a != b),
        ("SCMP_CMP_LT", |a, b| a < b),
        ("SCMP_CMP_LE", |a, b| a <= b),
        ("SCMP_CMP_GT", |a, b| a > b),
        ("SCMP_CMP_GE", |a, b| a >= b),
    ];
    let probes = [
        0,
        5,
        big - 1,
        big,
        big + 1,
        0x2_0000_0000,
        0x0_ffff_ffff,
        u64::MAX,
    ];
    for (op, f) in cases {
        let p = rule(op);
        for v in probes {
            assert_eq!(denied(&p, v), f(v, big), "{op} {v:#x} vs {big:#x}");
        }
    }
}

#[test]
fn masked_eq_and_and_or_of_conditions() {
    let p = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            // clone allowed only without CLONE_NEWUSER (0x10000000): masked equality.
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0x10000000u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
            // personality(0) or personality(8): same index, alternatives.
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            // socket(AF_UNIX=1, any, 0): different indexes, all must hold.
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 2, "value": 0, "op": "SCMP_CMP_EQ"}]}
        ]
    })))
    .unwrap();
    let eperm = RET_ERRNO | 1;
    assert_eq!(x64(&p, "clone", [0x11, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(x64(&p, "clone", [0x1000_0011, 0, 0, 0, 0, 0]), eperm);
    assert_eq!(x64(&p, "personality", [0, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(x64(&p, "personality", [8, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(x64(&p, "personality", [4, 0, 0, 0, 0, 0]), eperm);
    assert_eq!(x64(&p, "socket", [1, 1, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(x64(&p, "socket", [1, 1, 6, 0, 0, 0]), eperm);
    assert_eq!(x64(&p, "socket", [2, 1, 0, 0, 0, 0]), eperm);
}

#[test]
fn the_32_bit_abis_compare_the_low_half_only() {
    // libseccomp truncates operands on 32-bit ABIs: 0x1_0000_0005 is 5 there.
    let p = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                      "args": [{"index": 0, "value": 0x1_0000_0005u64, "op": "SCMP_CMP_EQ"}]}]
    })))
    .unwrap();
    let i386 = |v| call(&p, AUDIT_ARCH_I386, 136, [v, 0, 0, 0, 0, 0]);
    assert_eq!(i386(5), RET_ERRNO | 1);
    assert_eq!(i386(0xffff_ffff_0000_0005), RET_ERRNO | 1);
    assert_eq!(i386(6), RET_ALLOW);
    let x32 = |v| call(&p, AUDIT_ARCH_X86_64, 0x4000_0087, [v, 0, 0, 0, 0, 0]);
    assert_eq!(x32(5), RET_ERRNO | 1);
    assert_eq!(x64(&p, "personality", [5, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(
        x64(&p, "personality", [0x1_0000_0005, 0, 0, 0, 0, 0]),
        RET_ERRNO | 1
    );
}

#[test]
fn the_first_unconditional_rule_wins_over_every_other() {
    // libseccomp drops conditional rules once a syscall has an unconditional one, and
    // keeps the first unconditional one: in either order.
    for syscalls in [
        serde_json::json!([
            {"names": ["ioctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5},
            {"names": ["ioctl"], "action": "SCMP_ACT_LOG", "args": [{"index": 1, "value": 0x5401, "op": "SCMP_CMP_EQ"}]},
            {"names": ["ioctl"], "action": "SCMP_ACT_TRAP"}
        ]),
        serde_json::json!([
            {"names": ["ioctl"], "action": "SCMP_ACT_LOG", "args": [{"index": 1, "value": 0x5401, "op": "SCMP_CMP_EQ"}]},
            {"names": ["ioctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5},
            {"names": ["ioctl"], "action": "SCMP_ACT_TRAP"}
        ]),
    ] {
        let p = compile(&profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW", "syscalls": syscalls
        })))
        .unwrap();
        assert_eq!(x64(&p, "ioctl", [0, 0x5401, 0, 0, 0, 0]), RET_ERRNO | 5);
        assert_eq!(x64(&p, "ioctl", [0, 0x5402, 0, 0, 0, 0]), RET_ERRNO | 5);
    }
}

#[test]
fn rules_with_the_default_action_are_dropped() {
    // runc drops them (libseccomp refuses them), so they shadow nothing.
    let p = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["ioctl"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 0x5401, "op": "SCMP_CMP_EQ"}]},
            {"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["write"], "action": "SCMP_ACT_ERRNO", "errnoRet": 9},
            {"names": ["write"], "action": "SCMP_ACT_ALLOW"}
        ]
    })))
    .unwrap();
    assert_eq!(x64(&p, "ioctl", [0, 0x5401, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(x64(&p, "ioctl", [0, 0x5402, 0, 0, 0, 0]), RET_ERRNO | 1);
    assert_eq!(
        x64(&p, "read", [0; 6]),
        RET_ALLOW,
        "ERRNO(1) is the default"
    );
    assert_eq!(x64(&p, "write", [0; 6]), RET_ERRNO | 9, "ERRNO(9) is not");
}

#[test]
fn identical_conditions_must_agree() {
    let rule = |action: &str| serde_json::json!({"names": ["kill"], "action": action, "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]});
    let e = err(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [rule("SCMP_ACT_ERRNO"), rule("SCMP_ACT_LOG")]
    }));
    assert!(
        e.contains("syscalls[1]") && e.contains("syscalls[0]") && e.contains("kill"),
        "{e}"
    );
    let p = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [rule("SCMP_ACT_ERRNO"), rule("SCMP_ACT_ERRNO")]
    })))
    .unwrap();
    assert_eq!(x64(&p, "kill", [0, 9, 0, 0, 0, 0]), RET_ERRNO | 1);
}

#[test]
fn shorter_condition_chains_as_libseccomp_merges_them() {
    let short = |a: &str| serde_json::json!({"names": ["kill"], "action": a, "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]});
    let long = |a: &str| {
        serde_json::json!({"names": ["kill"], "action": a, "args": [
        {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]})
    };
    let run = |rules: serde_json::Value| {
        compile(&profile(
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules}),
        ))
        .map(|p| x64(&p, "kill", [1, 9, 0, 0, 0, 0]))
    };
    // The shorter one first covers the longer one, whatever its action.
    assert_eq!(
        run(serde_json::json!([
            short("SCMP_ACT_LOG"),
            long("SCMP_ACT_TRAP")
        ]))
        .unwrap(),
        RET_LOG
    );
    // The shorter one later replaces longer ones of its action, and refuses others.
    assert_eq!(
        run(serde_json::json!([
            long("SCMP_ACT_LOG"),
            short("SCMP_ACT_LOG")
        ]))
        .unwrap(),
        RET_LOG
    );
    let e = run(serde_json::json!([
        long("SCMP_ACT_TRAP"),
        short("SCMP_ACT_LOG")
    ]))
    .unwrap_err();
    assert!(e.to_string().contains("syscalls[1]"), "{e}");
}

#[test]
fn overlapping_conditions_go_in_libseccomp_order() {
    let p = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["kill"], "action": "SCMP_ACT_LOG", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
            {"names": ["kill"], "action": "SCMP_ACT_TRAP", "args": [{"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]},
            {"names": ["tkill"], "action": "SCMP_ACT_LOG", "args": [{"index": 0, "value": 7, "op": "SCMP_CMP_EQ"}]},
            {"names": ["tkill"], "action": "SCMP_ACT_TRAP", "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_GT"}]},
            {"names": ["tgkill"], "action": "SCMP_ACT_LOG", "args": [
                {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]},
            {"names": ["tgkill"], "action": "SCMP_ACT_TRAP", "args": [
                {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 2, "value": 3, "op": "SCMP_CMP_EQ"}]}
        ]
    })))
    .unwrap();
    // Higher argument indexes are checked first.
    assert_eq!(x64(&p, "kill", [1, 2, 0, 0, 0, 0]), RET_TRAP);
    assert_eq!(x64(&p, "kill", [1, 0, 0, 0, 0, 0]), RET_LOG);
    // On one argument GT comes before EQ.
    assert_eq!(x64(&p, "tkill", [7, 0, 0, 0, 0, 0]), RET_TRAP);
    assert_eq!(x64(&p, "tkill", [3, 0, 0, 0, 0, 0]), RET_ALLOW);
    // A chain that fails deeper goes on with the next one of its level.
    assert_eq!(x64(&p, "tgkill", [1, 2, 3, 0, 0, 0]), RET_TRAP);
    assert_eq!(x64(&p, "tgkill", [1, 2, 0, 0, 0, 0]), RET_LOG);
    assert_eq!(x64(&p, "tgkill", [1, 0, 0, 0, 0, 0]), RET_ALLOW);
}

#[test]
fn notify_needs_a_listener() {
    let p = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
    })))
    .unwrap();
    assert!(p.needs_listener());
    assert_eq!(x64(&p, "mkdir", [0; 6]), RET_USER_NOTIF);
    assert_eq!(
        p.flags,
        FLAG_NEW_LISTENER | FLAG_WAIT_KILLABLE_RECV,
        "no TSYNC (runc ignores it, the kernel refuses it with a listener)"
    );
    let plain = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]
    })))
    .unwrap();
    assert!(!plain.needs_listener());
    assert_eq!(
        plain.flags, FLAG_LOG,
        "WAIT_KILLABLE_RECV only with a listener"
    );

    let e = err(serde_json::json!({"defaultAction": "SCMP_ACT_NOTIFY"}));
    assert!(e.contains("defaultAction"), "{e}");
    let e = err(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"},
                     {"names": ["read", "write"], "action": "SCMP_ACT_NOTIFY"}]
    }));
    assert!(e.contains("syscalls[1]") && e.contains("write"), "{e}");
}

#[test]
fn bad_profiles_name_the_rule() {
    let one = |rule: serde_json::Value| {
        err(
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ERRNO"}, rule]}),
        )
    };
    let e = one(
        serde_json::json!({"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}),
    );
    assert!(e.contains("syscalls[1]") && e.contains("index 7"), "{e}");
    let e = one(serde_json::json!({"names": ["read", ""], "action": "SCMP_ACT_ERRNO"}));
    assert!(e.contains("syscalls[1]") && e.contains("empty"), "{e}");
    let e =
        one(serde_json::json!({"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000}));
    assert!(e.contains("syscalls[1]") && e.contains("70000"), "{e}");
    let e = err(serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000}));
    assert!(e.contains("defaultErrnoRet"), "{e}");
    let e = err(
        serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_PARISC"]}),
    );
    assert!(e.contains("SCMP_ARCH_PARISC"), "{e}");
    // An unknown flag, operator or architecture does not even parse.
    for bad in [
        serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_NOPE"]}),
        serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]}),
        serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ALMOST"}]}]}),
    ] {
        assert!(serde_json::from_value::<LinuxSeccomp>(bad).is_err());
    }
    // As runc: errnoRet on an action that has no errno is ignored, a missing valueTwo is 0.
    let p = compile(&profile(serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 5},
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0x10000000u64, "op": "SCMP_CMP_MASKED_EQ"}]}
    ]})))
    .unwrap();
    assert_eq!(x64(&p, "read", [0; 6]), RET_ALLOW);
    assert_eq!(x64(&p, "clone", [0x11, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(
        x64(&p, "clone", [0x1000_0011, 0, 0, 0, 0, 0]),
        RET_ERRNO | 1
    );
}

#[test]
fn unknown_names_are_skipped_and_reported() {
    let p = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [{"names": ["no_such_call", "read", "socketcall", "also_not", "no_such_call"], "action": "SCMP_ACT_ALLOW"}]
    })))
    .unwrap();
    assert_eq!(p.unknown_syscalls, ["no_such_call", "also_not"]);
    assert_eq!(x64(&p, "read", [0; 6]), RET_ALLOW);
    assert_eq!(
        call(&p, AUDIT_ARCH_I386, 102, [0; 6]),
        RET_ALLOW,
        "socketcall"
    );
}

#[test]
fn architectures_x32_and_the_native_one() {
    let v = |archs: serde_json::Value| {
        compile(&profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW", "architectures": archs,
            "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 7}]
        })))
        .unwrap()
    };
    let all = v(serde_json::json!([
        "SCMP_ARCH_X86_64",
        "SCMP_ARCH_X86",
        "SCMP_ARCH_X32"
    ]));
    assert_eq!(call(&all, AUDIT_ARCH_X86_64, 79, [0; 6]), RET_ERRNO | 7);
    assert_eq!(call(&all, AUDIT_ARCH_I386, 183, [0; 6]), RET_ERRNO | 7);
    assert_eq!(
        call(&all, AUDIT_ARCH_X86_64, 0x4000_004f, [0; 6]),
        RET_ERRNO | 7,
        "x32 numbers"
    );
    assert_eq!(call(&all, AUDIT_ARCH_I386, 79, [0; 6]), RET_ALLOW);
    assert_eq!(
        call(&all, 0xc000_00b7, 17, [0; 6]),
        RET_BAD_ARCH,
        "an architecture not listed gets libseccomp's default, KILL (thread)"
    );
    let only64 = v(serde_json::json!(["SCMP_ARCH_X86_64"]));
    assert_eq!(call(&only64, AUDIT_ARCH_I386, 183, [0; 6]), RET_BAD_ARCH);
    assert_eq!(
        call(&only64, AUDIT_ARCH_X86_64, 0x4000_004f, [0; 6]),
        RET_BAD_ARCH
    );
    assert_eq!(
        call(&only64, AUDIT_ARCH_X86_64, -1, [0; 6]),
        RET_ALLOW,
        "syscall -1 goes to the rules, as libseccomp lets it"
    );
    // The native architecture is always in, as in libseccomp's filters.
    for archs in [
        serde_json::json!([]),
        serde_json::json!(["SCMP_ARCH_NATIVE"]),
        serde_json::json!(["SCMP_ARCH_X86"]),
    ] {
        let p = v(archs);
        assert_eq!(call(&p, AUDIT_ARCH_X86_64, 79, [0; 6]), RET_ERRNO | 7);
    }
    assert_eq!(NATIVE, Some(Arch::ScmpArchX86_64));
}

#[test]
fn runc_enosys_stub_above_the_last_named_syscall() {
    let p = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["read", "openat", "getcwd"], "action": "SCMP_ACT_ALLOW"},
                     {"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO"}]
    })))
    .unwrap();
    // openat (257 on x86_64) is the highest name; on x32 kexec_load (528), a rule with
    // the default action, which counts all the same.
    assert_eq!(x64(&p, "write", [0; 6]), RET_ERRNO | 1);
    assert_eq!(call(&p, AUDIT_ARCH_X86_64, 246, [0; 6]), RET_ERRNO | 1);
    assert_eq!(call(&p, AUDIT_ARCH_X86_64, 258, [0; 6]), ENOSYS);
    assert_eq!(
        call(&p, AUDIT_ARCH_X86_64, 0x4000_0200, [0; 6]),
        RET_ERRNO | 1
    );
    assert_eq!(call(&p, AUDIT_ARCH_X86_64, 435, [0; 6]), ENOSYS);
    assert_eq!(call(&p, AUDIT_ARCH_X86_64, 0x4000_0101, [0; 6]), RET_ALLOW);
    assert_eq!(call(&p, AUDIT_ARCH_X86_64, 0x4000_0300, [0; 6]), ENOSYS);
    assert_eq!(call(&p, AUDIT_ARCH_X86_64, -1, [0; 6]), ENOSYS);
    assert_eq!(call(&p, AUDIT_ARCH_I386, 295, [0; 6]), RET_ALLOW, "openat");
    assert_eq!(call(&p, AUDIT_ARCH_I386, 400, [0; 6]), ENOSYS);
    // No stub when the default lets syscalls through.
    let allow = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_LOG",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO"}]
    })))
    .unwrap();
    assert_eq!(call(&allow, AUDIT_ARCH_X86_64, 435, [0; 6]), RET_LOG);
}

#[test]
fn other_architectures() {
    let p = |native: Arch, archs: serde_json::Value| {
        compile_for(
            &profile(serde_json::json!({
                "defaultAction": "SCMP_ACT_ERRNO", "architectures": archs,
                "syscalls": [
                    {"names": ["openat", "read", "close", "exit_group", "cacheflush", "s390_runtime_instr", "riscv_flush_icache"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0x1_0000_0008u64, "op": "SCMP_CMP_EQ"}]}
                ]
            })),
            native,
        )
        .unwrap()
    };
    const AARCH64: u32 = 0xc000_00b7;
    const ARM: u32 = 0x4000_0028;
    let arm = p(
        Arch::ScmpArchAarch64,
        serde_json::json!(["SCMP_ARCH_NATIVE", "SCMP_ARCH_ARM"]),
    );
    assert_eq!(call(&arm, AARCH64, 56, [0; 6]), RET_ALLOW, "openat");
    assert_eq!(call(&arm, AARCH64, 63, [0; 6]), RET_ALLOW, "read");
    assert_eq!(call(&arm, AARCH64, 64, [0; 6]), RET_ERRNO | 1, "write");
    assert_eq!(
        call(&arm, AARCH64, 92, [0x1_0000_0008, 0, 0, 0, 0, 0]),
        RET_ALLOW
    );
    assert_eq!(call(&arm, AARCH64, 92, [8, 0, 0, 0, 0, 0]), RET_ERRNO | 1);
    assert_eq!(call(&arm, ARM, 322, [0; 6]), RET_ALLOW, "openat on arm");
    assert_eq!(call(&arm, ARM, 0xf0002, [0; 6]), RET_ALLOW, "cacheflush");
    assert_eq!(
        call(&arm, ARM, 136, [8, 0, 0, 0, 0, 0]),
        RET_ALLOW,
        "32-bit"
    );
    assert_eq!(call(&arm, AUDIT_ARCH_X86_64, 0, [0; 6]), RET_BAD_ARCH);

    let rv = p(Arch::ScmpArchRiscv64, serde_json::json!([]));
    assert_eq!(call(&rv, 0xc000_00f3, 56, [0; 6]), RET_ALLOW);
    assert_eq!(
        call(&rv, 0xc000_00f3, 259, [0; 6]),
        RET_ALLOW,
        "riscv_flush_icache"
    );
    assert_eq!(call(&rv, 0xc000_00f3, 260, [0; 6]), ENOSYS);

    let ppc = p(
        Arch::ScmpArchPpc64le,
        serde_json::json!(["SCMP_ARCH_PPC64LE"]),
    );
    assert_eq!(call(&ppc, 0xc000_0015, 286, [0; 6]), RET_ALLOW, "openat");
    assert_eq!(call(&ppc, 0xc000_0015, 3, [0; 6]), RET_ALLOW, "read");
    assert_eq!(call(&ppc, 0xc000_0015, 4, [0; 6]), RET_ERRNO | 1);

    // Big-endian: the low half of an argument is its second word.
    const S390X: u32 = 0x8000_0016;
    let s390 = p(
        Arch::ScmpArchS390x,
        serde_json::json!(["SCMP_ARCH_S390X", "SCMP_ARCH_S390"]),
    );
    let be = |arch, nr, a0| call_on(&s390, arch, nr, [a0, 0, 0, 0, 0, 0], true);
    assert_eq!(be(S390X, 288, 0), RET_ALLOW, "openat");
    assert_eq!(be(S390X, 342, 0), RET_ALLOW, "s390_runtime_instr");
    assert_eq!(be(S390X, 136, 0x1_0000_0008), RET_ALLOW);
    assert_eq!(be(S390X, 136, 0x8_0000_0001), RET_ERRNO | 1);
    assert_eq!(be(0x16, 136, 8), RET_ALLOW, "s390 (31-bit)");
    assert_eq!(be(S390X, 0, 0), ENOSYS, "runc's stub for the multiplexer");

    let mips = p(
        Arch::ScmpArchMipsel64,
        serde_json::json!([
            "SCMP_ARCH_MIPSEL64",
            "SCMP_ARCH_MIPSEL64N32",
            "SCMP_ARCH_MIPSEL"
        ]),
    );
    assert_eq!(
        call(&mips, 0xc000_0008, 5247, [0; 6]),
        RET_ALLOW,
        "n64 openat"
    );
    assert_eq!(
        call(&mips, 0xe000_0008, 6251, [0; 6]),
        RET_ALLOW,
        "n32 openat"
    );
    assert_eq!(
        call(&mips, 0x4000_0008, 4288, [0; 6]),
        RET_ALLOW,
        "o32 openat"
    );
    assert_eq!(
        call(&mips, 0x4000_0008, 4003, [0; 6]),
        RET_ALLOW,
        "o32 read"
    );

    // libseccomp refuses to mix byte orders, and has no LoongArch table here.
    let e = compile(&profile(
        serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_S390X"]}),
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("SCMP_ARCH_S390X"), "{e}");
    let l = compile(&profile(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_AARCH64"]}))).unwrap();
    assert_eq!(l.skipped_archs, [Arch::ScmpArchLoongarch64]);
}

#[test]
fn big_profiles_use_far_jumps() {
    // Every syscall its own errno: nothing merges, so jumps span the whole program.
    let rules: Vec<serde_json::Value> = tables::X86_64
        .iter()
        .map(|(n, nr)| serde_json::json!({"names": [n], "action": "SCMP_ACT_ERRNO", "errnoRet": nr + 1}))
        .collect();
    let p = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": rules
    })))
    .unwrap();
    assert!(p.filter.len() > 1500, "{}", p.filter.len());
    for (_, nr) in tables::X86_64.iter() {
        assert_eq!(
            call(&p, AUDIT_ARCH_X86_64, nr as i32, [0; 6]),
            RET_ERRNO | (nr + 1)
        );
    }
    for (name, nr) in tables::X86.iter() {
        let want = lookup(&tables::X86_64, name).map_or(RET_ALLOW, |n| RET_ERRNO | (n + 1));
        assert_eq!(call(&p, AUDIT_ARCH_I386, nr as i32, [0; 6]), want, "{name}");
    }
    assert_eq!(call(&p, AUDIT_ARCH_I386, 999, [0; 6]), RET_ALLOW);
}

#[test]
fn too_long_a_filter_is_refused() {
    // 400 syscalls with 11 different conditions each: far above 4096 instructions.
    let rules: Vec<serde_json::Value> = tables::X86_64
        .iter()
        .take(400)
        .map(|(n, _)| {
            let args: Vec<serde_json::Value> = (0..11)
                .map(|v| serde_json::json!({"index": 1, "value": v, "op": "SCMP_CMP_EQ"}))
                .collect();
            serde_json::json!({"names": [n], "action": "SCMP_ACT_ERRNO", "args": args})
        })
        .collect();
    let e = err(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules}));
    assert!(e.contains("4096"), "{e}");
}

/// A reference: what the rules mean, evaluated directly on the 64-bit values.
fn expect(abi: &Abi, r: &AbiRules, default: u32, stub: bool, nr: u32, args: &[u64; 6]) -> u32 {
    fn holds(c: &Cond, a: u64) -> bool {
        let a = if c.args32 { a & 0xffff_ffff } else { a };
        let v = c.value;
        match c.op {
            CondOp::Eq => a == v,
            CondOp::Ne => a != v,
            CondOp::Lt => a < v,
            CondOp::Le => a <= v,
            CondOp::Gt => a > v,
            CondOp::Ge => a >= v,
            CondOp::MaskedEq => (a & v) == (c.value_two & v),
        }
    }
    fn eval(nodes: &[Node], args: &[u64; 6]) -> Option<u32> {
        for n in nodes {
            if holds(&n.cond, args[n.cond.index as usize]) {
                let r = match n.end {
                    Some((ret, _)) => Some(ret),
                    None => eval(&n.children, args),
                };
                if r.is_some() {
                    return r;
                }
            }
        }
        None
    }
    if let Some(s) = r.get(nr) {
        return s
            .unconditional
            .or_else(|| eval(&s.tree, args))
            .unwrap_or(default);
    }
    assert!(nr >= abi.first && nr <= abi.last);
    match r.last_named {
        Some(last) if stub && nr > last => ENOSYS,
        _ => default,
    }
}

#[test]
fn random_profiles_match_a_reference() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let names = [
        "read",
        "write",
        "kill",
        "ioctl",
        "clone",
        "personality",
        "openat",
        "socket",
    ];
    let actions = [
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_LOG",
        "SCMP_ACT_TRAP",
    ];
    let ops = crate::fuzz::OPS;
    let values = [
        0u64,
        1,
        2,
        7,
        0xff,
        0x1_0000_0001,
        0xffff_ffff,
        0xffff_ffff_0000_0002,
        u64::MAX,
    ];
    let mut compiled = 0;
    for _ in 0..300 {
        let mut rules = Vec::new();
        for _ in 0..1 + rnd(8) {
            let mut args = Vec::new();
            for _ in 0..rnd(3) {
                args.push(serde_json::json!({
                    "index": rnd(3), "value": values[rnd(9) as usize],
                    "valueTwo": values[rnd(9) as usize], "op": ops[rnd(ops.len() as u64) as usize]
                }));
            }
            rules.push(serde_json::json!({
                "names": [names[rnd(8) as usize], names[rnd(8) as usize]],
                "action": actions[rnd(4) as usize], "errnoRet": rnd(3), "args": args
            }));
        }
        let prof = profile(serde_json::json!({
            "defaultAction": actions[rnd(4) as usize],
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": rules
        }));
        let Ok(p) = compile(&prof) else { continue };
        compiled += 1;
        let default = action(prof.default_action(), prof.default_errno_ret(), "").unwrap();
        let stub = !matches!(
            prof.default_action(),
            LinuxSeccompAction::ScmpActAllow | LinuxSeccompAction::ScmpActLog
        );
        let rs = rules_of(&prof);
        for arch in [Arch::ScmpArchX86_64, Arch::ScmpArchX86] {
            let a = abi(arch).unwrap().unwrap();
            let mut known: Vec<Vec<bool>> = rs.iter().map(|r| vec![false; r.names.len()]).collect();
            let r = abi_rules(&a, &rs, default, &mut known).unwrap();
            for _ in 0..60 {
                let name = names[rnd(8) as usize];
                let nr = lookup(a.table, name).unwrap_or(a.first + 500);
                let mut args = [0u64; 6];
                for x in args.iter_mut().take(3) {
                    *x = values[rnd(9) as usize].wrapping_add(rnd(3)).wrapping_sub(1);
                }
                let want = expect(&a, &r, default, stub, nr, &args);
                assert_eq!(
                    call(&p, a.audit, nr as i32, args),
                    want,
                    "{arch} {name} {args:x?}\n{prof:?}"
                );
            }
        }
    }
    assert!(compiled > 150, "{compiled}");
}

fn rules_of(p: &LinuxSeccomp) -> Vec<Rule<'_>> {
    rules(p).unwrap()
}

fn nr(table: &crate::syscalls::Table, name: &str) -> i32 {
    lookup(table, name).unwrap_or_else(|| panic!("{name}")) as i32
}

const EPERM: u32 = RET_ERRNO | 1;
const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;

#[test]
fn docker_default_profile_x86_64() {
    let p = compile(&profile(
        serde_json::from_str(include_str!("../testdata/docker-default-x86_64.json")).unwrap(),
    ))
    .unwrap();
    let t = &tables::X86_64;
    let c = |name: &str, args: [u64; 6]| call(&p, AUDIT_ARCH_X86_64, nr(t, name), args);
    let z = [0; 6];
    for ok in [
        "read",
        "write",
        "openat",
        "execve",
        "exit_group",
        "chroot",
        "ptrace",
        "arch_prctl",
    ] {
        assert_eq!(c(ok, z), RET_ALLOW, "{ok}");
    }
    for no in [
        "mount",
        "umount2",
        "unshare",
        "setns",
        "kexec_load",
        "bpf",
        "reboot",
        "open_by_handle_at",
    ] {
        assert_eq!(c(no, z), EPERM, "{no}");
    }
    assert_eq!(
        c("clone3", z),
        ENOSYS,
        "errnoRet 38: glibc falls back to clone"
    );
    // clone without namespace flags only (MASKED_EQ 0x7e020000).
    assert_eq!(c("clone", [0x0011_0000 | 17, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(
        c("clone", [0x1000_0000 | 17, 0, 0, 0, 0, 0]),
        EPERM,
        "CLONE_NEWUSER"
    );
    assert_eq!(
        c("clone", [0x0002_0000, 0, 0, 0, 0, 0]),
        EPERM,
        "CLONE_NEWNS"
    );
    for ok in [0, 8, 0x20000, 0x20008, 0xffff_ffff] {
        assert_eq!(c("personality", [ok, 0, 0, 0, 0, 0]), RET_ALLOW, "{ok:#x}");
    }
    assert_eq!(c("personality", [0x0040_0000, 0, 0, 0, 0, 0]), EPERM);
    assert_eq!(c("personality", [0x1_0000_0008, 0, 0, 0, 0, 0]), EPERM);
    // socket: all families but AF_ALG (38) and AF_VSOCK (40).
    for (family, want) in [
        (1, RET_ALLOW),
        (2, RET_ALLOW),
        (38, EPERM),
        (39, RET_ALLOW),
        (40, EPERM),
        (44, RET_ALLOW),
    ] {
        assert_eq!(
            c("socket", [family, 1, 0, 0, 0, 0]),
            want,
            "family {family}"
        );
    }
    // Numbers past the profile's last syscall: ENOSYS (runc's stub); gaps: EPERM.
    assert_eq!(call(&p, AUDIT_ARCH_X86_64, 1000, z), ENOSYS);
    assert_eq!(
        call(&p, AUDIT_ARCH_X86_64, 440, z),
        EPERM,
        "process_madvise: no CAP_SYS_PTRACE"
    );

    // i386: its own numbers, 32-bit arguments.
    let t = &tables::X86;
    let i = |name: &str, args| call(&p, AUDIT_ARCH_I386, nr(t, name), args);
    assert_eq!(i("socketcall", z), RET_ALLOW);
    assert_eq!(i("read", z), RET_ALLOW);
    assert_eq!(i("mount", z), EPERM);
    assert_eq!(i("personality", [0xffff_ffff, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(i("clone", [0x1000_0000, 0, 0, 0, 0, 0]), EPERM);
    assert_eq!(i("socket", [40, 1, 0, 0, 0, 0]), EPERM);
    // x32: x86_64's audit value with the x32 bit.
    let t = &tables::X32;
    let x = |name: &str| call(&p, AUDIT_ARCH_X86_64, nr(t, name), z);
    assert_eq!(x("read"), RET_ALLOW);
    assert_eq!(x("mount"), EPERM);
    assert_eq!(call(&p, AUDIT_ARCH_X86_64, 0x4000_0400, z), ENOSYS);
    // Not listed: killed, as libseccomp's default bad-architecture action does.
    assert_eq!(call(&p, AUDIT_ARCH_AARCH64, 63, z), RET_BAD_ARCH);
    assert!(p.filter.len() < 400, "{} instructions", p.filter.len());
}

#[test]
fn docker_default_profile_aarch64_and_s390x() {
    let p = compile_for(
        &profile(
            serde_json::from_str(include_str!("../testdata/docker-default-aarch64.json")).unwrap(),
        ),
        Arch::ScmpArchAarch64,
    )
    .unwrap();
    let z = [0; 6];
    let a = |name: &str, args| call(&p, AUDIT_ARCH_AARCH64, nr(&tables::AARCH64, name), args);
    assert_eq!(a("openat", z), RET_ALLOW);
    assert_eq!(a("mount", z), EPERM);
    assert_eq!(a("clone", [17, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(a("clone", [0x1000_0011, 0, 0, 0, 0, 0]), EPERM);
    let arm = |name: &str| call(&p, 0x4000_0028, nr(&tables::ARM, name), z);
    assert_eq!(arm("set_tls"), RET_ALLOW);
    assert_eq!(arm("cacheflush"), RET_ALLOW);
    assert_eq!(arm("mount"), EPERM);
    assert_eq!(call(&p, AUDIT_ARCH_X86_64, 0, z), RET_BAD_ARCH);

    let p = compile_for(
        &profile(
            serde_json::from_str(include_str!("../testdata/docker-default-s390x.json")).unwrap(),
        ),
        Arch::ScmpArchS390x,
    )
    .unwrap();
    let s = |name: &str, args| call_on(&p, 0x8000_0016, nr(&tables::S390X, name), args, true);
    assert_eq!(s("s390_runtime_instr", z), RET_ALLOW);
    assert_eq!(s("mount", z), EPERM);
    // s390's clone takes its flags second.
    assert_eq!(s("clone", [0, 17, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(s("clone", [0, 0x1000_0011, 0, 0, 0, 0]), EPERM);
    assert_eq!(s("clone", [0x1000_0011, 17, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(s("personality", [8, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(call_on(&p, 0x8000_0016, 0, z, true), ENOSYS);
}

#[test]
fn podman_default_profile_x86_64() {
    let p = compile(&profile(
        serde_json::from_str(include_str!("../testdata/podman-default-x86_64.json")).unwrap(),
    ))
    .unwrap();
    let t = &tables::X86_64;
    let c = |name: &str, args: [u64; 6]| call(&p, AUDIT_ARCH_X86_64, nr(t, name), args);
    let z = [0; 6];
    assert_eq!(c("read", z), RET_ALLOW);
    assert_eq!(c("mount", z), RET_ALLOW);
    assert_eq!(c("userfaultfd", z), EPERM);
    assert_eq!(
        c("acct", z),
        EPERM,
        "an explicit ERRNO(1) for want of CAP_SYS_PACCT"
    );
    // futex_waitv is refused first (EPERM), setns allowed first and refused later: the
    // first unconditional rule wins both times.
    assert_eq!(c("futex_waitv", z), EPERM);
    assert_eq!(c("setns", z), RET_ALLOW);
    // The default is ENOSYS: a syscall the profile does not name.
    assert_eq!(c("uretprobe", z), RET_ERRNO | 38);
    // Without CAP_AUDIT_WRITE, netlink audit sockets get EINVAL, others are allowed.
    assert_eq!(c("socket", [16, 3, 9, 0, 0, 0]), RET_ERRNO | 22);
    assert_eq!(c("socket", [16, 3, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(c("socket", [2, 1, 9, 0, 0, 0]), RET_ALLOW);
    assert_eq!(c("personality", [8, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(c("personality", [1, 0, 0, 0, 0, 0]), RET_ERRNO | 38);
    let i = |name: &str, args| call(&p, AUDIT_ARCH_I386, nr(&tables::X86, name), args);
    assert_eq!(i("socket", [16, 3, 9, 0, 0, 0]), RET_ERRNO | 22);
    assert_eq!(i("read", z), RET_ALLOW);
}

/// The kernel takes the programs and runs them as the interpreter does (in a forked child,
/// which only makes syscalls before it exits).
#[test]
fn the_kernel_agrees() {
    let docker = compile(&profile(
        serde_json::from_str(include_str!("../testdata/docker-default-x86_64.json")).unwrap(),
    ))
    .unwrap();
    let notify = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    })))
    .unwrap();
    let errno = || std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    // SAFETY: the child only makes syscalls and exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let code = (|| unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return 10;
            }
            match load(&notify) {
                Ok(Some(fd)) if std::os::fd::AsRawFd::as_raw_fd(&fd) > 2 => {}
                _ => return 11,
            }
            if !matches!(load(&docker), Ok(None)) {
                return 12;
            }
            if libc::syscall(libc::SYS_mount, 0, 0, 0, 0, 0) != -1 || errno() != libc::EPERM {
                return 13;
            }
            if libc::syscall(1000) != -1 || errno() != libc::ENOSYS {
                return 14;
            }
            if libc::syscall(libc::SYS_clone3, 0, 0) != -1 || errno() != libc::ENOSYS {
                return 15;
            }
            if libc::syscall(libc::SYS_personality, 0xffff_ffffu64) == -1 {
                return 16;
            }
            if libc::syscall(libc::SYS_personality, 1u64) != -1 || errno() != libc::EPERM {
                return 17;
            }
            0
        })();
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: our child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "{status:#x}");
    assert_eq!(libc::WEXITSTATUS(status), 0, "step that failed");
}

#[test]
fn the_kernel_tells_which_flags_it_knows() {
    // Any kernel hull runs on (5.x+) knows LOG and SPEC_ALLOW; none knows bit 30.
    assert!(super::kernel_knows_flag(FLAG_LOG));
    assert!(super::kernel_knows_flag(FLAG_SPEC_ALLOW));
    assert!(!super::kernel_knows_flag(1 << 30));
}

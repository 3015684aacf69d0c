use super::*;
use crate::bpf::{run, SeccompData};

fn profile(v: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(v).unwrap()
}

fn nr64(name: &str) -> i32 {
    lookup(
        &ArchTable {
            audit: 0,
            table: tables::X86_64,
            args32: false,
        },
        name,
    )
    .unwrap() as i32
}

fn call(p: &Program, arch: u32, nr: i32, args: [u64; 6]) -> u32 {
    run(
        &p.filter,
        &SeccompData {
            nr,
            arch,
            instruction_pointer: 0,
            args,
        },
    )
    .expect("valid program")
}

fn x64(p: &Program, name: &str, args: [u64; 6]) -> u32 {
    call(p, AUDIT_ARCH_X86_64, nr64(name), args)
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
    let cases: [(&str, fn(u64, u64) -> bool); 6] = [
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
fn conditional_rules_come_before_the_unconditional_one() {
    let p = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["ioctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5},
            {"names": ["ioctl"], "action": "SCMP_ACT_LOG", "args": [{"index": 1, "value": 0x5401, "op": "SCMP_CMP_EQ"}]}
        ]
    })))
    .unwrap();
    assert_eq!(x64(&p, "ioctl", [0, 0x5401, 0, 0, 0, 0]), RET_LOG);
    assert_eq!(x64(&p, "ioctl", [0, 0x5402, 0, 0, 0, 0]), RET_ERRNO | 5);
}

#[test]
fn architectures_and_x32() {
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
    assert_eq!(
        call(&all, AUDIT_ARCH_I386, 183, [0; 6]),
        RET_ERRNO | 7,
        "i386 numbers"
    );
    assert_eq!(
        call(&all, AUDIT_ARCH_X86_64, 0x4000_004f, [0; 6]),
        RET_ERRNO | 7,
        "x32 numbers"
    );
    assert_eq!(
        call(&all, AUDIT_ARCH_I386, 79, [0; 6]),
        RET_ALLOW,
        "79 is not getcwd on i386"
    );
    assert_eq!(
        call(&all, 0xc000_00b7, 17, [0; 6]),
        RET_KILL_PROCESS,
        "an architecture not listed"
    );
    let only64 = v(serde_json::json!(["SCMP_ARCH_X86_64"]));
    assert_eq!(
        call(&only64, AUDIT_ARCH_I386, 183, [0; 6]),
        RET_KILL_PROCESS
    );
    assert_eq!(
        call(&only64, AUDIT_ARCH_X86_64, 0x4000_004f, [0; 6]),
        RET_KILL_PROCESS
    );
    let native = v(serde_json::json!([]));
    assert_eq!(call(&native, AUDIT_ARCH_X86_64, 79, [0; 6]), RET_ERRNO | 7);
}

#[test]
fn big_profiles_use_far_jumps() {
    let names: Vec<&str> = tables::X86_64.iter().map(|(n, _)| *n).collect();
    let p = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}, {"names": ["getcwd"], "action": "SCMP_ACT_KILL"}]
    })))
    .unwrap();
    assert!(p.filter.len() > 600, "{}", p.filter.len());
    assert_eq!(
        x64(&p, "getcwd", [0; 6]),
        RET_ALLOW,
        "the first unconditional rule wins"
    );
    assert_eq!(x64(&p, "read", [0; 6]), RET_ALLOW);
    assert_eq!(
        call(&p, AUDIT_ARCH_I386, 3, [0; 6]),
        RET_ALLOW,
        "names resolve per architecture: read is 3 on i386"
    );
    assert_eq!(call(&p, AUDIT_ARCH_I386, 999, [0; 6]), RET_ERRNO | 1);
}

#[test]
fn bad_profiles_name_the_problem() {
    let e = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]
    })))
    .unwrap_err()
    .to_string();
    assert!(e.contains("syscalls[0]") && e.contains("index 7"), "{e}");
}

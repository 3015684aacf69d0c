//! Structured mutations of a JSON document, as proptest values (so a failure shrinks to
//! the few mutations that matter), then raw edits of its text.

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;

/// Strings that mean something somewhere in a config, and strings that break things.
const STRINGS: &[&str] = &[
    "",
    "a",
    "/",
    ".",
    "..",
    "../..",
    "/..",
    "/a/../..",
    "a/b",
    "/proc/self/exe",
    "/dev/null",
    "/dev/../etc/passwd",
    "/dev/fuse",
    "a\nb",
    "a\rb",
    "a\0b",
    "\0",
    "\u{7f}",
    "\u{feff}",
    "é",
    "\u{1F4A5}",
    " ",
    "\t",
    "\\",
    "\"",
    "%s%n",
    "{}",
    "[]",
    "null",
    "true",
    "-1",
    "0",
    "1.5",
    "pid",
    "network",
    "mount",
    "user",
    "ipc",
    "uts",
    "cgroup",
    "time",
    "c",
    "b",
    "u",
    "p",
    "bind",
    "rbind",
    "ro",
    "rw",
    "rro",
    "nosuid",
    "idmap",
    "ridmap",
    "tmpcopyup",
    "tmpfs",
    "proc",
    "sysfs",
    "cgroup2",
    "devpts",
    "none",
    "shared",
    "rshared",
    "private",
    "rprivate",
    "slave",
    "rslave",
    "unbindable",
    "mode=755",
    "size=65536k",
    "remount",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_LOG",
    "SCMP_ACT_TRACE",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_X86",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_NATIVE",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    "write",
    "sendmsg",
    "read",
    "clone",
    "RLIMIT_NOFILE",
    "RLIMIT_CPU",
    "RLIMIT_RTTIME",
    "CAP_SYS_ADMIN",
    "CAP_FOO",
    "SYS_ADMIN",
    "cap_chown",
    "CAP_CAP_KILL",
    "CAP_",
    "SCHED_FIFO",
    "SCHED_RR",
    "SCHED_DEADLINE",
    "SCHED_OTHER",
    "SCHED_FLAG_RECLAIM",
    "IOPRIO_CLASS_RT",
    "IOPRIO_CLASS_IDLE",
    "MPOL_BIND",
    "MPOL_LOCAL",
    "MPOL_PREFERRED",
    "MPOL_F_STATIC_NODES",
    "LINUX32",
    "LINUX",
    "ADDR_NO_RANDOMIZE",
    "0-3,7",
    "0-",
    "-1",
    "3-1",
    "65535",
    "0-65535",
    "0-65536",
    "99999999999999999999",
    "1.0.2",
    "1.2.0",
    "1.0",
    "2.0.0",
    "1.0.2-dev",
    "monotonic",
    "boottime",
    "realtime",
    "net.ipv4.ip_forward",
    "kernel.msgmax",
    "kernel.core_pattern",
    "fs.mqueue.msg_max",
    "kernel.hostname",
    "net/ipv4/ip_forward",
    "x=y",
    "=x",
    "PATH=",
    "PATH=:/bin:",
    "HOME=/h",
    "/hull-fuzz",
    "hull-fuzz",
    "system.slice:hull:fuzz",
    "/a/../b",
    "max",
    "rwm",
    "m",
    "",
];

/// Numbers at the edges of every integer type a config has.
const NUMBERS: &[i128] = &[
    0,
    1,
    -1,
    2,
    5,
    6,
    7,
    8,
    18,
    19,
    20,
    -20,
    -21,
    63,
    64,
    65,
    99,
    100,
    255,
    256,
    1000,
    4095,
    4096,
    4097,
    65535,
    65536,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    -0x8000_0000,
    -0x8000_0001,
    i64::MAX as i128,
    i64::MIN as i128,
    u64::MAX as i128,
];

/// Keys found in config.json and process.json, for inserted fields.
const KEYS: &[&str] = &[
    "ociVersion",
    "root",
    "process",
    "mounts",
    "linux",
    "hooks",
    "annotations",
    "hostname",
    "domainname",
    "args",
    "env",
    "cwd",
    "user",
    "uid",
    "gid",
    "umask",
    "additionalGids",
    "capabilities",
    "bounding",
    "effective",
    "permitted",
    "inheritable",
    "ambient",
    "rlimits",
    "type",
    "soft",
    "hard",
    "noNewPrivileges",
    "oomScoreAdj",
    "scheduler",
    "ioPriority",
    "execCPUAffinity",
    "consoleSize",
    "terminal",
    "namespaces",
    "path",
    "uidMappings",
    "gidMappings",
    "containerID",
    "hostID",
    "size",
    "devices",
    "sysctl",
    "seccomp",
    "defaultAction",
    "defaultErrnoRet",
    "syscalls",
    "names",
    "action",
    "index",
    "value",
    "valueTwo",
    "op",
    "errnoRet",
    "flags",
    "architectures",
    "listenerPath",
    "listenerMetadata",
    "rootfsPropagation",
    "maskedPaths",
    "readonlyPaths",
    "timeOffsets",
    "personality",
    "memoryPolicy",
    "intelRdt",
    "resources",
    "cgroupsPath",
    "options",
    "destination",
    "source",
    "major",
    "minor",
    "fileMode",
    "readonly",
    "nice",
    "priority",
    "policy",
    "class",
    "nodes",
    "mode",
    "domain",
    "secs",
    "nanosecs",
    "height",
    "width",
    "apparmorProfile",
    "selinuxLabel",
    "commandLine",
    "memory",
    "cpu",
    "pids",
    "limit",
    "swap",
    "shares",
    "quota",
    "period",
    "cpus",
    "mems",
    "unified",
    "blockIO",
    "weight",
    "hugepageLimits",
    "network",
    "rdma",
    "allow",
    "access",
    "",
];

/// A value to put somewhere.
#[derive(Debug, Clone)]
pub enum Lit {
    Null,
    Bool(bool),
    Num(i128),
    Float(f64),
    Str(&'static str),
    /// `n` times the character `c` (64 KiB and more: far above any field's use).
    Long(char, usize),
    Arr(Vec<Lit>),
    Obj(Vec<(&'static str, Lit)>),
}

impl Lit {
    fn value(&self) -> Value {
        match self {
            Lit::Null => Value::Null,
            Lit::Bool(b) => Value::Bool(*b),
            Lit::Num(n) => match (i64::try_from(*n), u64::try_from(*n)) {
                (Ok(i), _) => i.into(),
                (_, Ok(u)) => u.into(),
                _ => Value::Null,
            },
            Lit::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Lit::Str(s) => Value::String(s.to_string()),
            Lit::Long(c, n) => Value::String(std::iter::repeat_n(*c, *n).collect()),
            Lit::Arr(v) => Value::Array(v.iter().map(Lit::value).collect()),
            Lit::Obj(v) => {
                Value::Object(v.iter().map(|(k, l)| (k.to_string(), l.value())).collect())
            }
        }
    }
}

fn leaf() -> impl Strategy<Value = Lit> {
    prop_oneof![
        Just(Lit::Null),
        any::<bool>().prop_map(Lit::Bool),
        prop::sample::select(NUMBERS).prop_map(Lit::Num),
        any::<i64>().prop_map(|n| Lit::Num(n as i128)),
        prop::sample::select(&[0.5, -0.0, 1.0, -1.5, 1e10, 1e308, -1e308, 4294967296.5][..])
            .prop_map(Lit::Float),
        prop::sample::select(STRINGS).prop_map(Lit::Str),
        prop::sample::select(STRINGS).prop_map(Lit::Str),
        (
            prop::sample::select(&['a', '/', '\0', '\n', 'é'][..]),
            prop::sample::select(&[65, 256, 4097, 65537, 70000][..])
        )
            .prop_map(|(c, n)| Lit::Long(c, n)),
    ]
}

fn lit() -> impl Strategy<Value = Lit> {
    leaf().prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Lit::Arr),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..3).prop_map(Lit::Obj),
        ]
    })
}

/// Text spliced in where JSON values cannot say it.
#[derive(Debug, Clone)]
pub enum Splice {
    /// `depth` levels of `[` (or `{"a":`) around a null.
    Deep { depth: usize, objects: bool },
    /// A string with an escape that is no UTF-16 a string can hold.
    Raw(&'static str),
    /// The node's object gets one of its own keys a second time.
    DuplicateKey,
}

const RAW: &[&str] = &[
    "\"\\ud800\"",
    "\"a\\udc00b\"",
    "\"\\ud800\\u0041\"",
    "\"\\udbff\\udfff\"",
    "\"\\u0000\"",
    "1e400",
    "-1e400",
    "-0",
    "18446744073709551616",
    "-9223372036854775809",
    "340282366920938463463374607431768211456",
    "1.0",
    "4294967296.0",
    "0.0000001",
    "1E2",
];

#[derive(Debug, Clone)]
pub enum Op {
    /// A value of the node's own type: the number, the string, the bool; for an array,
    /// its first element again. Mostly still a config, so the checks past parsing run.
    Tweak(Index, i128, &'static str, bool),
    Set(Index, Lit),
    Remove(Index),
    /// Copies node a over node b: a mount where a namespace goes, and so on.
    Copy(Index, Index),
    /// Appends a copy of an array's element to it (a namespace twice, ...).
    Repeat(Index),
    Insert(Index, &'static str, Lit),
    Splice(Index, Splice),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (any::<Index>(), prop::sample::select(NUMBERS), prop::sample::select(STRINGS), any::<bool>())
            .prop_map(|(i, n, s, b)| Op::Tweak(i, n, s, b)),
        4 => (any::<Index>(), lit()).prop_map(|(i, l)| Op::Set(i, l)),
        2 => any::<Index>().prop_map(Op::Remove),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Op::Copy(a, b)),
        1 => any::<Index>().prop_map(Op::Repeat),
        1 => (any::<Index>(), prop::sample::select(KEYS), lit()).prop_map(|(i, k, l)| Op::Insert(i, k, l)),
        1 => (any::<Index>(), prop_oneof![
            (prop::sample::select(&[2usize, 127, 128, 129, 1000, 10_000, 100_000][..]), any::<bool>())
                .prop_map(|(depth, objects)| Splice::Deep { depth, objects }),
            prop::sample::select(RAW).prop_map(Splice::Raw),
            Just(Splice::DuplicateKey),
        ]).prop_map(|(i, s)| Op::Splice(i, s)),
    ]
}

/// An edit of the text's bytes, after the structured ones.
#[derive(Debug, Clone)]
pub enum ByteOp {
    Set(Index, u8),
    Insert(Index, u8),
    Delete(Index, usize),
    Truncate(Index),
    Repeat(Index, usize),
}

fn byte_op() -> impl Strategy<Value = ByteOp> {
    let byte = prop_oneof![
        any::<u8>(),
        prop::sample::select(
            &[0u8, b'\n', b'"', b'\\', b'{', b'[', b',', b':', 0x80, 0xc3, 0xed, 0xff][..]
        ),
    ];
    prop_oneof![
        (any::<Index>(), byte.clone()).prop_map(|(i, b)| ByteOp::Set(i, b)),
        (any::<Index>(), byte).prop_map(|(i, b)| ByteOp::Insert(i, b)),
        (any::<Index>(), 1usize..16).prop_map(|(i, n)| ByteOp::Delete(i, n)),
        any::<Index>().prop_map(ByteOp::Truncate),
        (any::<Index>(), 1usize..64).prop_map(|(i, n)| ByteOp::Repeat(i, n)),
    ]
}

/// What to do to a document: structured mutations, then (sometimes) byte edits.
#[derive(Debug, Clone)]
pub struct Mutations {
    pub ops: Vec<Op>,
    pub bytes: Vec<ByteOp>,
}

pub fn mutations() -> impl Strategy<Value = Mutations> {
    (
        prop::collection::vec(op(), 1..6),
        prop_oneof![4 => Just(Vec::new()), 1 => prop::collection::vec(byte_op(), 1..4)],
    )
        .prop_map(|(ops, bytes)| Mutations { ops, bytes })
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    At(usize),
}

/// Every node's path, parents before children.
fn paths(v: &Value) -> Vec<Vec<Seg>> {
    fn walk(v: &Value, here: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
        out.push(here.clone());
        match v {
            Value::Object(m) => {
                for (k, c) in m {
                    here.push(Seg::Key(k.clone()));
                    walk(c, here, out);
                    here.pop();
                }
            }
            Value::Array(a) => {
                for (i, c) in a.iter().enumerate() {
                    here.push(Seg::At(i));
                    walk(c, here, out);
                    here.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut Vec::new(), &mut out);
    out
}

fn get_mut<'a>(v: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |v, s| match s {
        Seg::Key(k) => v.get_mut(k.as_str()),
        Seg::At(i) => v.get_mut(*i),
    })
}

fn get<'a>(v: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, s| match s {
        Seg::Key(k) => v.get(k.as_str()),
        Seg::At(i) => v.get(*i),
    })
}

/// A string no config has, that marks where spliced text goes.
fn marker(n: usize) -> String {
    format!("\u{1}splice{n}\u{1}")
}

/// Applies `m` to `base` and returns the text.
pub fn apply(base: &Value, m: &Mutations) -> Vec<u8> {
    let mut doc = base.clone();
    // (marker as serialized, text to put there); for a duplicate key the marker is a key.
    let mut splices: Vec<(String, String)> = Vec::new();
    for op in &m.ops {
        let all = paths(&doc);
        let pick = |i: &Index| all[i.index(all.len())].clone();
        match op {
            Op::Tweak(i, n, s, b) => match get_mut(&mut doc, &pick(i)) {
                Some(v @ Value::Number(_)) => *v = Lit::Num(*n).value(),
                Some(Value::String(v)) => *v = s.to_string(),
                Some(Value::Bool(v)) => *v = *b,
                Some(Value::Array(a)) => {
                    if let Some(first) = a.first().cloned() {
                        a.push(first);
                    }
                }
                _ => {}
            },
            Op::Set(i, l) => {
                if let Some(n) = get_mut(&mut doc, &pick(i)) {
                    *n = l.value();
                }
            }
            Op::Remove(i) => {
                let p = pick(i);
                if let Some((last, parent)) = p.split_last() {
                    match (get_mut(&mut doc, parent), last) {
                        (Some(Value::Object(o)), Seg::Key(k)) => {
                            o.shift_remove(k);
                        }
                        (Some(Value::Array(a)), Seg::At(n)) => {
                            a.remove(*n);
                        }
                        _ => {}
                    }
                }
            }
            Op::Copy(a, b) => {
                let (a, b) = (pick(a), pick(b));
                // Not into itself: that would grow without end.
                if !b.starts_with(&a) {
                    let from = get(&doc, &a).cloned();
                    if let (Some(from), Some(to)) = (from, get_mut(&mut doc, &b)) {
                        *to = from;
                    }
                }
            }
            Op::Repeat(i) => {
                if let Some(Value::Array(a)) = get_mut(&mut doc, &pick(i)) {
                    if let Some(first) = a.first().cloned() {
                        a.push(first);
                    }
                }
            }
            Op::Insert(i, k, l) => match get_mut(&mut doc, &pick(i)) {
                Some(Value::Object(o)) => {
                    o.insert(k.to_string(), l.value());
                }
                Some(Value::Array(a)) => a.push(l.value()),
                _ => {}
            },
            Op::Splice(i, s) => {
                let p = pick(i);
                let mark = marker(splices.len());
                let quoted = serde_json::to_string(&mark).unwrap_or_default();
                match s {
                    Splice::Deep { depth, objects } => {
                        let (open, close) = if *objects {
                            ("{\"a\":", "}")
                        } else {
                            ("[", "]")
                        };
                        let text = format!("{}null{}", open.repeat(*depth), close.repeat(*depth));
                        if let Some(n) = get_mut(&mut doc, &p) {
                            *n = Value::String(mark);
                            splices.push((quoted, text));
                        }
                    }
                    Splice::Raw(r) => {
                        if let Some(n) = get_mut(&mut doc, &p) {
                            *n = Value::String(mark);
                            splices.push((quoted, r.to_string()));
                        }
                    }
                    Splice::DuplicateKey => {
                        if let Some(Value::Object(o)) = get_mut(&mut doc, &p) {
                            if let Some((k, v)) =
                                o.iter().next().map(|(k, v)| (k.clone(), v.clone()))
                            {
                                // The same key again, with another node's value.
                                let other = all
                                    .get(i.index(all.len()).wrapping_add(7) % all.len())
                                    .and_then(|q| get(base, q))
                                    .cloned()
                                    .unwrap_or(v);
                                o.insert(mark, other);
                                splices
                                    .push((quoted, serde_json::to_string(&k).unwrap_or_default()));
                            }
                        }
                    }
                }
            }
        }
    }
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    for (mark, with) in &splices {
        text = text.replacen(mark.as_str(), with, 1);
    }
    let mut bytes = text.into_bytes();
    for b in &m.bytes {
        let len = bytes.len();
        let at = |i: &Index| if len == 0 { 0 } else { i.index(len) };
        match b {
            ByteOp::Set(i, x) if len > 0 => {
                let n = at(i);
                bytes[n] = *x;
            }
            ByteOp::Insert(i, x) => bytes.insert(at(i), *x),
            ByteOp::Delete(i, n) => {
                let s = at(i);
                bytes.drain(s..(s + n).min(len));
            }
            ByteOp::Truncate(i) => bytes.truncate(at(i)),
            ByteOp::Repeat(i, n) => {
                let s = at(i);
                let piece: Vec<u8> = bytes[s..(s + n).min(len)].to_vec();
                bytes.splice(s..s, piece);
            }
            _ => {}
        }
    }
    bytes
}

/// A rootfs's /etc/passwd: none, a usual one, or junk.
pub fn passwd() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some(
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n"
                .to_string()
        )),
        prop::sample::select(
            &[
                "root:x:0:0:root:/ro\0ot:/bin/sh\n",
                "root:x:0:0:root:/root\n",
                "root:x:0:0:root::/bin/sh\n",
                "root:x:00:0:root:relative:/bin/sh\n",
                "root:x:4294967296:0::/x:/bin/sh\n",
                ":::::::\n\n\n",
                "root:x:0:0:root:/home/\u{1F4A5}\n:/bin/sh\n",
                "",
            ][..]
        )
        .prop_map(|s| Some(s.to_string())),
        prop::collection::vec(any::<u8>(), 0..200)
            .prop_map(|b| Some(String::from_utf8_lossy(&b).into_owned())),
    ]
}

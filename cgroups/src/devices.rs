//! The `devices` allow/deny list: its meaning (the v1 device controller's, as runc's
//! emulator defines it), the v1 rule writes that reach it, and the v2 eBPF program that
//! enforces it.
//!
//! Both hierarchies go through one model so that a list means the same on v1 and v2: rules
//! apply in order; `a` (all) resets the list to allow-all or deny-all; any other rule adds
//! an exception to the current default or removes access from an existing exception of
//! exactly that type/major/minor. Removing access that a wider wildcard exception grants
//! is refused, since v1 would silently keep it (runc refuses it too).

use std::collections::BTreeMap;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::{Error, Result};

// Access bits, as the kernel's bpf_cgroup_dev_ctx has them.
pub(crate) const MKNOD: u8 = 1;
pub(crate) const READ: u8 = 2;
pub(crate) const WRITE: u8 = 4;
const RWM: u8 = MKNOD | READ | WRITE;

// Device types in bpf_cgroup_dev_ctx.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Node {
    All,
    Char,
    Block,
}

/// Which devices an exception covers; `None` is a wildcard. Ordered as runc orders
/// its rules (major, minor, type), for a stable output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Meta {
    major: Option<u32>,
    minor: Option<u32>,
    node: Node,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rule {
    meta: Meta,
    access: u8,
    allow: bool,
}

impl Rule {
    /// The rule as devices.allow / devices.deny take it: `c 1:3 rwm`.
    pub(crate) fn v1_line(&self) -> String {
        let node = match self.meta.node {
            Node::All => 'a',
            Node::Char => 'c',
            Node::Block => 'b',
        };
        let num = |n: Option<u32>| n.map_or("*".to_string(), |n| n.to_string());
        format!(
            "{node} {}:{} {}",
            num(self.meta.major),
            num(self.meta.minor),
            access_str(self.access)
        )
    }

    pub(crate) fn allow(&self) -> bool {
        self.allow
    }
}

fn access_str(a: u8) -> String {
    [(READ, 'r'), (WRITE, 'w'), (MKNOD, 'm')]
        .iter()
        .filter(|(bit, _)| a & bit != 0)
        .map(|(_, c)| *c)
        .collect()
}

/// The r, w and m of an access string; other letters are ignored, as runc does.
fn parse_access(s: &str) -> u8 {
    s.chars().fold(0, |a, c| match c {
        'r' => a | READ,
        'w' => a | WRITE,
        'm' => a | MKNOD,
        _ => a,
    })
}

/// Checks and converts the spec's rules. A missing access means all of `rwm` (the spec
/// leaves it optional); an empty one is an error, as in runc, and one without any of r, w
/// and m ("x") is left out.
pub(crate) fn parse(list: &[LinuxDeviceCgroup]) -> Result<Vec<Rule>> {
    let rules: Vec<Option<Rule>> = list
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let bad = |what: String| Error::Invalid(format!("devices[{i}]: {what}"));
            let node = match d.typ() {
                None | Some(LinuxDeviceType::A) => Node::All,
                Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => Node::Char,
                Some(LinuxDeviceType::B) => Node::Block,
                Some(LinuxDeviceType::P) => {
                    return Err(bad("type p: the device cgroup knows a, b and c only".into()))
                }
            };
            // Negative is "any", as the spec's -1 and runc have it. Above i32::MAX no
            // Linux device exists and the BPF compare takes a signed 32-bit immediate.
            let num = |name: &str, n: Option<i64>| match n {
                Some(n) if n > i64::from(i32::MAX) => {
                    Err(bad(format!("{name} {n} is out of range")))
                }
                Some(n) if n >= 0 => Ok(Some(n as u32)),
                _ => Ok(None),
            };
            let access = match d.access().as_deref() {
                None => RWM,
                Some("") => return Err(bad("access is empty".into())),
                Some(s) => match parse_access(s) {
                    0 => return Ok(None),
                    a => a,
                },
            };
            Ok(Some(Rule {
                meta: Meta {
                    major: num("major", d.major())?,
                    minor: num("minor", d.minor())?,
                    node,
                },
                access,
                allow: d.allow(),
            }))
        })
        .collect::<Result<_>>()?;
    Ok(rules.into_iter().flatten().collect())
}

/// The state of a v1 device cgroup: a default and its exceptions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Emulator {
    default_allow: bool,
    exceptions: BTreeMap<Meta, u8>,
}

impl Emulator {
    /// The state after `rules`, starting from deny-all (as runc starts).
    pub(crate) fn from_rules(rules: &[Rule]) -> Result<Emulator> {
        let mut e = Emulator::default();
        for r in rules {
            e.apply(r)?;
        }
        Ok(e)
    }

    fn apply(&mut self, r: &Rule) -> Result<()> {
        if r.meta.node == Node::All {
            *self = Emulator {
                default_allow: r.allow,
                exceptions: BTreeMap::new(),
            };
        } else if r.allow != self.default_allow {
            *self.exceptions.entry(r.meta).or_insert(0) |= r.access;
        } else {
            // A wider exception would keep granting what this rule takes away.
            let m = r.meta;
            for wider in [
                Meta { major: None, ..m },
                Meta { minor: None, ..m },
                Meta {
                    major: None,
                    minor: None,
                    ..m
                },
            ] {
                let held = self.exceptions.get(&wider).copied().unwrap_or(0);
                if wider != m && held & r.access != 0 {
                    return Err(Error::Invalid(format!(
                        "devices: rule {:?} cannot take access away from the wider rule {:?} before it",
                        r.v1_line(),
                        Rule { meta: wider, access: held, allow: !r.allow }.v1_line()
                    )));
                }
            }
            if let Some(a) = self.exceptions.get_mut(&m) {
                *a &= !r.access;
                if *a == 0 {
                    self.exceptions.remove(&m);
                }
            }
        }
        Ok(())
    }

    /// True when nothing is restricted.
    pub(crate) fn allows_all(&self) -> bool {
        self.default_allow && self.exceptions.is_empty()
    }

    /// The state as systemd's DevicePolicy and DeviceAllow entries (path, access), so
    /// that systemd, which rewrites device access on a daemon-reload, keeps what the
    /// container was given (runc's translation). systemd cannot express a deny list: the
    /// policy is then `strict` with no entries on v1 (safe after a reload; hull's own
    /// rules apply after systemd's), and `auto` on v2, where systemd's program and hull's
    /// both must allow and hull's already enforces the list. Also returns the rules
    /// systemd cannot express (`c *:5`), which only hull's rules then grant.
    pub(crate) fn systemd_allow(
        &self,
        v2: bool,
        version: u32,
    ) -> (&'static str, Vec<(String, String)>, Vec<String>) {
        if self.default_allow {
            let policy = if self.exceptions.is_empty() || v2 {
                "auto"
            } else {
                "strict"
            };
            return (policy, Vec::new(), Vec::new());
        }
        let mut allow = Vec::new();
        let mut unexpressed = Vec::new();
        for (meta, &access) in &self.exceptions {
            let kind = match meta.node {
                Node::Block => "block",
                _ => "char",
            };
            let path = match (meta.major, meta.minor) {
                (None, None) => Some(format!("{kind}-*")),
                (Some(major), None) if version >= 240 => Some(format!("{kind}-{major}")),
                (Some(major), None) => {
                    proc_devices_group(kind, major).map(|group| format!("{kind}-{group}"))
                }
                (Some(major), Some(minor)) => {
                    let path = format!("/dev/{kind}/{major}:{minor}");
                    // Before 240 systemd stat()s the path and skips what is not there.
                    if version < 240 && !std::path::Path::new(&path).exists() {
                        continue;
                    }
                    Some(path)
                }
                (None, Some(_)) => None,
            };
            match path {
                Some(path) => allow.push((path, access_str(access))),
                None => unexpressed.push(
                    Rule {
                        meta: *meta,
                        access,
                        allow: true,
                    }
                    .v1_line(),
                ),
            }
        }
        ("strict", allow, unexpressed)
    }

    /// The BPF_PROG_TYPE_CGROUP_DEVICE program for this state: one block per exception,
    /// each returning the opposite of the default when the device and access match.
    pub(crate) fn program(&self) -> Vec<Insn> {
        // r1 = ctx: u32 access_type (access << 16 | type), u32 major, u32 minor.
        let mut p = vec![
            Insn::ldx_w(2, 1, 0),
            Insn::alu32_imm(AND, 2, 0xffff),
            Insn::ldx_w(3, 1, 0),
            Insn::alu32_imm(RSH, 3, 16),
            Insn::ldx_w(4, 1, 4),
            Insn::ldx_w(5, 1, 8),
        ];
        let verdict = |allow: bool| [Insn::alu32_imm(MOV, 0, i32::from(allow)), Insn::exit()];
        for (meta, &access) in &self.exceptions {
            let typ = if meta.node == Node::Block {
                DEV_BLOCK
            } else {
                DEV_CHAR
            };
            // Each test jumps past the block on a mismatch: its target is patched below.
            let mut block = vec![Insn::jne_imm(2, typ, 0)];
            if access != RWM {
                block.push(Insn::mov32_reg(1, 3));
                block.push(Insn::alu32_imm(AND, 1, i32::from(access)));
                if self.default_allow {
                    // A deny exception refuses any access it shares with the request,
                    // as v1 does (runc's program would let `rw` past a `w` deny).
                    block.push(Insn::jeq_imm(1, 0, 0));
                } else {
                    // An allow exception must cover all of the requested access.
                    block.push(Insn::jne_reg(1, 3, 0));
                }
            }
            for (reg, n) in [(4, meta.major), (5, meta.minor)] {
                if let Some(n) = n {
                    block.push(Insn::jne_imm(reg, n as i32, 0));
                }
            }
            block.extend(verdict(!self.default_allow));
            let len = block.len();
            for (i, insn) in block.iter_mut().enumerate() {
                if matches!(insn.code, JNE_K | JNE_X | JEQ_K) {
                    insn.off = (len - i - 1) as i16;
                }
            }
            p.extend(block);
        }
        p.extend(verdict(self.default_allow));
        p
    }
}

/// The name /proc/devices gives `major` of `kind` ("char" or "block"), which systemd
/// before 240 needs for a whole-major rule (`char-pts`).
fn proc_devices_group(kind: &str, major: u32) -> Option<String> {
    let text = std::fs::read_to_string("/proc/devices").ok()?;
    let header = if kind == "char" {
        "Character devices:"
    } else {
        "Block devices:"
    };
    let mut section = false;
    for line in text.lines() {
        if line.ends_with(':') {
            section = line == header;
            continue;
        }
        let mut f = line.split_whitespace();
        if section && f.next() == Some(major.to_string().as_str()) {
            return f.next().map(str::to_string);
        }
    }
    None
}

// eBPF opcodes used by `program` (and no others: the test interpreter knows these).
pub(crate) const LDX_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
pub(crate) const AND: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
pub(crate) const RSH: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
pub(crate) const MOV: u8 = 0xb4; // BPF_ALU | BPF_MOV | BPF_K
pub(crate) const MOV_X: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
pub(crate) const JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
pub(crate) const JNE_X: u8 = 0x5d; // BPF_JMP | BPF_JNE | BPF_X
pub(crate) const JEQ_K: u8 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
pub(crate) const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

/// One eBPF instruction (struct bpf_insn).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Insn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    fn ldx_w(dst: u8, src: u8, off: i16) -> Insn {
        Insn {
            code: LDX_W,
            dst,
            src,
            off,
            imm: 0,
        }
    }
    fn alu32_imm(code: u8, dst: u8, imm: i32) -> Insn {
        Insn {
            code,
            dst,
            src: 0,
            off: 0,
            imm,
        }
    }
    fn mov32_reg(dst: u8, src: u8) -> Insn {
        Insn {
            code: MOV_X,
            dst,
            src,
            off: 0,
            imm: 0,
        }
    }
    fn jne_imm(dst: u8, imm: i32, off: i16) -> Insn {
        Insn {
            code: JNE_K,
            dst,
            src: 0,
            off,
            imm,
        }
    }
    fn jeq_imm(dst: u8, imm: i32, off: i16) -> Insn {
        Insn {
            code: JEQ_K,
            dst,
            src: 0,
            off,
            imm,
        }
    }
    fn jne_reg(dst: u8, src: u8, off: i16) -> Insn {
        Insn {
            code: JNE_X,
            dst,
            src,
            off,
            imm: 0,
        }
    }
    fn exit() -> Insn {
        Insn {
            code: EXIT,
            dst: 0,
            src: 0,
            off: 0,
            imm: 0,
        }
    }

    /// The kernel's 8-byte encoding (registers in the second byte, dst in the low nibble
    /// on little-endian hosts).
    pub(crate) fn encode(&self) -> [u8; 8] {
        let regs = if cfg!(target_endian = "little") {
            (self.src << 4) | (self.dst & 0xf)
        } else {
            (self.dst << 4) | (self.src & 0xf)
        };
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = regs;
        b[2..4].copy_from_slice(&self.off.to_ne_bytes());
        b[4..8].copy_from_slice(&self.imm.to_ne_bytes());
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `prog` the way the kernel would on one device access, knowing only the opcodes
    /// `program` emits; anything else fails the test.
    fn run(prog: &[Insn], typ: i32, major: u32, minor: u32, access: u8) -> bool {
        let ctx = [((access as u32) << 16) | typ as u32, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        for _ in 0..10_000 {
            let i = prog[pc];
            let (d, s) = (i.dst as usize, i.src as usize);
            pc += 1;
            match i.code {
                LDX_W => {
                    assert_eq!(s, 1, "loads only from the context");
                    r[d] = u64::from(ctx[i.off as usize / 4]);
                }
                AND => r[d] = u64::from(r[d] as u32 & i.imm as u32),
                RSH => r[d] = u64::from((r[d] as u32) >> i.imm),
                MOV => r[d] = u64::from(i.imm as u32),
                MOV_X => r[d] = u64::from(r[s] as u32),
                JNE_K | JNE_X | JEQ_K => {
                    let other = if i.code == JNE_X {
                        r[s]
                    } else {
                        i.imm as i64 as u64
                    };
                    if (r[d] != other) == (i.code != JEQ_K) {
                        pc = (pc as isize + i.off as isize) as usize;
                    }
                }
                EXIT => return r[0] == 1,
                c => panic!("opcode {c:#x} not expected"),
            }
        }
        panic!("program did not exit");
    }

    fn rules(json: &str) -> Vec<Rule> {
        parse(&serde_json::from_str::<Vec<LinuxDeviceCgroup>>(json).unwrap()).unwrap()
    }

    fn emu(json: &str) -> Emulator {
        Emulator::from_rules(&rules(json)).unwrap()
    }

    const C: i32 = DEV_CHAR;
    const B: i32 = DEV_BLOCK;

    #[test]
    fn default_container_list() {
        let p = emu(r#"[{"allow":false,"access":"rwm"},
            {"allow":true,"type":"c","access":"m"},{"allow":true,"type":"b","access":"m"},
            {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
            {"allow":true,"type":"c","major":136,"access":"rwm"},
            {"allow":true,"type":"c","major":5,"minor":0,"access":"rw"}]"#)
        .program();
        assert!(run(&p, C, 1, 3, READ | WRITE));
        assert!(run(&p, C, 1, 3, MKNOD));
        assert!(run(&p, C, 99, 1, MKNOD), "c *:* m");
        assert!(run(&p, B, 8, 0, MKNOD), "b *:* m");
        assert!(!run(&p, B, 8, 0, READ));
        assert!(!run(&p, C, 1, 5, READ), "/dev/zero not listed");
        assert!(run(&p, C, 136, 7, READ | WRITE), "any pty");
        assert!(run(&p, C, 5, 0, READ | WRITE));
        assert!(run(&p, C, 5, 0, MKNOD), "m from c *:* m");
        assert!(
            !run(&p, B, 1, 3, READ),
            "a block device with a char device's numbers"
        );
        assert!(!run(&p, C, 10, 200, READ | WRITE));
    }

    #[test]
    fn empty_list_denies_everything() {
        let p = emu("[]").program();
        assert!(!run(&p, C, 1, 3, READ));
        assert_eq!(p.len(), 8);
    }

    #[test]
    fn deny_list_after_allow_all() {
        let p = emu(r#"[{"allow":true,"type":"a"},{"allow":false,"type":"c","major":1,"minor":3,"access":"w"}]"#)
            .program();
        assert!(run(&p, C, 1, 3, READ));
        assert!(!run(&p, C, 1, 3, WRITE));
        assert!(
            !run(&p, C, 1, 3, READ | WRITE),
            "part of the access is denied"
        );
        assert!(run(&p, B, 8, 0, READ | WRITE | MKNOD));
    }

    #[test]
    fn later_rules_change_earlier_ones() {
        // Access of one device adds up; a deny takes part of it away again.
        let e = emu(r#"[{"allow":false,"type":"a"},
            {"allow":true,"type":"c","major":1,"minor":3,"access":"r"},
            {"allow":true,"type":"c","major":1,"minor":3,"access":"wm"},
            {"allow":false,"type":"c","major":1,"minor":3,"access":"m"}]"#);
        let p = e.program();
        assert!(run(&p, C, 1, 3, READ | WRITE));
        assert!(!run(&p, C, 1, 3, MKNOD));
        // A rule for "all" starts over.
        let e =
            emu(r#"[{"allow":true,"type":"c","major":1,"minor":3},{"allow":false,"type":"a"}]"#);
        assert!(!run(&e.program(), C, 1, 3, READ));
    }

    #[test]
    fn no_hole_in_a_wildcard() {
        let err = Emulator::from_rules(&rules(
            r#"[{"allow":true,"type":"c","access":"m"},{"allow":false,"type":"c","major":1,"minor":3,"access":"m"}]"#,
        ))
        .unwrap_err();
        assert!(err.to_string().contains("wider rule"), "{err}");
        // Other access than the wildcard's is fine.
        emu(
            r#"[{"allow":true,"type":"c","access":"m"},{"allow":false,"type":"c","major":1,"minor":3,"access":"r"}]"#,
        );
    }

    #[test]
    fn access_letters_other_than_rwm_are_ignored() {
        let list: Vec<LinuxDeviceCgroup> = serde_json::from_str(
            r#"[{"allow":true,"type":"c","major":1,"minor":3,"access":"rwa"},{"allow":true,"access":"x"}]"#,
        )
        .unwrap();
        let rules = parse(&list).unwrap();
        assert_eq!(rules.len(), 1, "a rule with none of r, w, m is left out");
        assert_eq!(rules[0].access, READ | WRITE);
    }

    #[test]
    fn bad_rules() {
        for (json, what) in [
            (r#"[{"allow":true,"type":"p"}]"#, "type p"),
            (r#"[{"allow":true,"access":""}]"#, "empty"),
            (r#"[{"allow":true,"type":"c","major":4294967296}]"#, "major"),
        ] {
            let list: Vec<LinuxDeviceCgroup> = serde_json::from_str(json).unwrap();
            let err = parse(&list).unwrap_err().to_string();
            assert!(err.contains("devices[0]") && err.contains(what), "{err}");
        }
    }

    #[test]
    fn program_agrees_with_the_model() {
        // Pseudo-random lists, each checked over every combination of a few devices.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let types = ["a", "c", "b"];
        for _ in 0..300 {
            let mut list = Vec::new();
            for _ in 0..next(6) {
                let num = |v: u64| if v == 0 { -1 } else { v as i64 };
                list.push(format!(
                    r#"{{"allow":{},"type":"{}","major":{},"minor":{},"access":"{}"}}"#,
                    next(2) == 0,
                    types[next(3) as usize],
                    num(next(3)),
                    num(next(3)),
                    access_str(1 + next(7) as u8)
                ));
            }
            let Ok(e) = Emulator::from_rules(&rules(&format!("[{}]", list.join(",")))) else {
                continue;
            };
            let p = e.program();
            for (typ, node) in [(C, Node::Char), (B, Node::Block)] {
                for major in 0..3 {
                    for minor in 0..3 {
                        for access in 1..=RWM {
                            let listed = e.exceptions.iter().any(|(m, a)| {
                                m.node == node
                                    && m.major.is_none_or(|x| x == major)
                                    && m.minor.is_none_or(|x| x == minor)
                                    && if e.default_allow {
                                        access & a != 0
                                    } else {
                                        access & !a == 0
                                    }
                            });
                            assert_eq!(
                                run(&p, typ, major, minor, access),
                                listed != e.default_allow,
                                "{list:?} on {node:?} {major}:{minor} {access}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn encoding() {
        let i = Insn::jne_reg(1, 3, 2);
        let b = i.encode();
        assert_eq!(b[0], 0x5d);
        if cfg!(target_endian = "little") {
            assert_eq!(b[1], 0x31);
        }
        assert_eq!(i16::from_ne_bytes([b[2], b[3]]), 2);
    }
}

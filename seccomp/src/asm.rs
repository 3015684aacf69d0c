//! A BPF assembler that builds the program backwards, from its last instruction to its
//! first. Every jump then points at code that already exists, so its distance is known
//! when it is emitted: a target beyond the 255 instructions a conditional jump reaches
//! gets a copy of its `ret` (or an unconditional `ja`, which reaches anywhere) placed right
//! after the jump, and nothing has to be relaxed or patched at the end.

use std::collections::HashMap;

use crate::bpf::*;

/// An emitted instruction, counted from the program's end (stable while building).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pos(usize);

/// Where a jump goes: emitted code, or any `ret` of that value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    At(Pos),
    Ret(u32),
}

/// A 64-bit comparison of one syscall argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cond {
    pub index: u8,
    pub op: CondOp,
    /// The operand (the mask of MASKED_EQ).
    pub value: u64,
    /// The expected value of MASKED_EQ; 0 for the other operators.
    pub value_two: u64,
    /// 32-bit ABI: only the low half of the argument exists (libseccomp compares it alone).
    pub args32: bool,
    /// Big-endian ABI: the low half is the second word of the argument.
    pub big_endian: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CondOp {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    MaskedEq,
}

impl Cond {
    fn offsets(&self) -> (u32, u32) {
        let base = 16 + 8 * self.index as u32;
        if self.big_endian {
            (base + 4, base)
        } else {
            (base, base + 4)
        }
    }

    /// libseccomp skips the word of a MASKED_EQ whose mask is zero there.
    fn words(&self) -> (bool, bool) {
        let has_hi = !self.args32;
        match self.op {
            CondOp::MaskedEq => (lo(self.value) != 0, has_hi && hi(self.value) != 0),
            _ => (true, has_hi),
        }
    }

    /// True when the comparison tests nothing (MASKED_EQ with an empty mask).
    pub fn is_noop(&self) -> bool {
        self.words() == (false, false)
    }
}

fn lo(v: u64) -> u32 {
    v as u32
}
fn hi(v: u64) -> u32 {
    (v >> 32) as u32
}

#[derive(Default)]
pub struct Asm {
    /// The program, last instruction first.
    rev: Vec<Insn>,
    /// The newest `ret k` and `ja` to each target: reused while still in reach.
    rets: HashMap<u32, usize>,
    trampolines: HashMap<usize, usize>,
}

impl Asm {
    fn push(&mut self, code: u16, jt: u8, jf: u8, k: u32) -> Pos {
        self.rev.push(Insn { code, jt, jf, k });
        Pos(self.rev.len() - 1)
    }

    pub fn ret(&mut self, k: u32) -> Pos {
        let p = self.push(RET_K, 0, 0, k);
        self.rets.insert(k, p.0);
        p
    }

    /// `A = seccomp_data[off]`.
    pub fn load(&mut self, off: u32) -> Pos {
        self.push(LD_W_ABS, 0, 0, off)
    }

    /// Offset from the next instruction emitted to `at`, if a conditional jump reaches it.
    fn reach(&self, at: usize) -> Option<u8> {
        u8::try_from(self.rev.len() - at - 1).ok()
    }

    /// Makes `t` a position the next instruction can reach, emitting a trampoline if need be.
    /// With `acc` the word A holds, a target that would only load it again is skipped.
    fn resolve(&mut self, t: Target, acc: Option<u32>) -> usize {
        match t {
            Target::Ret(k) => match self.rets.get(&k) {
                Some(&p) if self.reach(p).is_some() => p,
                _ => self.ret(k).0,
            },
            Target::At(Pos(mut p)) => {
                let i = self.rev[p];
                if i.code == LD_W_ABS && Some(i.k) == acc {
                    p -= 1;
                }
                if self.reach(p).is_some() {
                    return p;
                }
                if let Some(&j) = self.trampolines.get(&p) {
                    if self.reach(j).is_some() {
                        return j;
                    }
                }
                let off = (self.rev.len() - p - 1) as u32;
                let j = self.push(JMP_JA, 0, 0, off).0;
                self.trampolines.insert(p, j);
                j
            }
        }
    }

    /// `if (A op k) goto jt else goto jf`; `acc` is the word A holds, if known.
    pub fn jump(&mut self, op: u16, k: u32, jt: Target, jf: Target, acc: Option<u32>) -> Pos {
        // A trampoline for one target moves the jump away from the other: retry until
        // both are in reach (each round places one trampoline right here, so it ends).
        loop {
            let n = self.rev.len();
            let t = self.resolve(jt, acc);
            let f = self.resolve(jf, acc);
            if self.rev.len() == n || (self.reach(t).is_some() && self.reach(f).is_some()) {
                let (t, f) = (self.reach(t).unwrap_or(0), self.reach(f).unwrap_or(0));
                return self.push(op, t, f, k);
            }
        }
    }

    /// Code that goes to `ok` when `c` holds and to `fail` otherwise; returns its entry.
    pub fn cond(&mut self, c: &Cond, ok: Target, fail: Target) -> Target {
        let (off_lo, off_hi) = c.offsets();
        let (v, v2) = (c.value, c.value_two);
        let (use_lo, use_hi) = c.words();
        let at = Target::At;
        match c.op {
            CondOp::Eq | CondOp::Ne => {
                // EQ: both halves equal; NE: either differs.
                let (yes, no) = if c.op == CondOp::Eq {
                    (ok, fail)
                } else {
                    (fail, ok)
                };
                self.jump(JMP_JEQ_K, lo(v), yes, no, Some(off_lo));
                let mut entry = at(self.load(off_lo));
                if use_hi {
                    self.jump(JMP_JEQ_K, hi(v), entry, no, Some(off_hi));
                    entry = at(self.load(off_hi));
                }
                entry
            }
            CondOp::MaskedEq => {
                let mut entry = ok;
                for (used, off, mask, want) in [
                    (use_lo, off_lo, lo(v), lo(v2)),
                    (use_hi, off_hi, hi(v), hi(v2)),
                ] {
                    if !used {
                        continue;
                    }
                    if mask == u32::MAX {
                        self.jump(JMP_JEQ_K, want, entry, fail, Some(off));
                    } else {
                        self.jump(JMP_JEQ_K, want & mask, entry, fail, None);
                        self.push(ALU_AND_K, 0, 0, mask);
                    }
                    entry = at(self.load(off));
                }
                entry
            }
            CondOp::Gt | CondOp::Ge | CondOp::Lt | CondOp::Le => {
                // GT/GE hold when the high half is greater, or equal with the low half
                // greater (or equal); LT/LE are their negations.
                let positive = matches!(c.op, CondOp::Gt | CondOp::Ge);
                let low_op = if matches!(c.op, CondOp::Gt | CondOp::Le) {
                    JMP_JGT_K
                } else {
                    JMP_JGE_K
                };
                let (yes, no) = if positive { (ok, fail) } else { (fail, ok) };
                self.jump(low_op, lo(v), yes, no, Some(off_lo));
                let mut entry = at(self.load(off_lo));
                if use_hi {
                    let eq = self.jump(JMP_JEQ_K, hi(v), entry, no, Some(off_hi));
                    self.jump(JMP_JGT_K, hi(v), yes, at(eq), Some(off_hi));
                    entry = at(self.load(off_hi));
                }
                entry
            }
        }
    }

    /// The program in execution order.
    pub fn finish(mut self) -> Vec<Insn> {
        self.rev.reverse();
        self.rev
    }
}

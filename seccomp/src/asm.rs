//! A tiny BPF assembler with forward labels. Conditional jumps reach 255 instructions;
//! farther targets go through an unconditional `ja` (32-bit offset).

use crate::bpf::*;
use crate::Error;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label(usize);

/// A 64-bit comparison of one syscall argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cond {
    pub index: u8,
    pub op: CondOp,
    pub value: u64,
    /// The expected value of MASKED_EQ (`value` is then the mask).
    pub value_two: u64,
    /// 32-bit ABI: only the low half of the argument exists.
    pub args32: bool,
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

#[derive(Clone, Copy)]
enum Target {
    Next,
    To(Label),
}

struct Pending {
    at: usize,
    jt: Target,
    jf: Target,
}

#[derive(Default)]
pub struct Asm {
    code: Vec<Insn>,
    pending: Vec<Pending>,
    far: Vec<(usize, Label)>,
    labels: Vec<Option<usize>>,
}

fn lo(v: u64) -> u32 {
    v as u32
}
fn hi(v: u64) -> u32 {
    (v >> 32) as u32
}

impl Asm {
    pub fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    pub fn bind(&mut self, l: Label) {
        self.labels[l.0] = Some(self.code.len());
    }

    fn push(&mut self, code: u16, k: u32) {
        self.code.push(Insn {
            code,
            jt: 0,
            jf: 0,
            k,
        });
    }

    fn jump(&mut self, code: u16, k: u32, jt: Target, jf: Target) {
        self.pending.push(Pending {
            at: self.code.len(),
            jt,
            jf,
        });
        self.push(code, k);
    }

    pub fn load_arch(&mut self) {
        self.push(LD_W_ABS, 4);
    }

    pub fn load_nr(&mut self) {
        self.push(LD_W_ABS, 0);
    }

    pub fn ret(&mut self, k: u32) {
        self.push(RET_K, k);
    }

    pub fn jump_if_ne(&mut self, k: u32, to: Label) {
        self.jump(JMP_JEQ_K, k, Target::Next, Target::To(to));
    }

    fn far_jump(&mut self, to: Label) {
        self.far.push((self.code.len(), to));
        self.push(JMP_JA, 0);
    }

    /// if (A `op` k) goto `to`, at any distance; `op` is JMP_JEQ_K, JMP_JGE_K...
    pub fn jump_far_if(&mut self, op: u16, k: u32, to: Label) {
        let skip = self.label();
        self.jump(op, k, Target::Next, Target::To(skip));
        self.far_jump(to);
        self.bind(skip);
    }

    /// Falls through when `c` holds, jumps to `fail` otherwise.
    pub fn cond(&mut self, c: &Cond, fail: Label) {
        let (op, v, v2) = (c.op, c.value, c.value_two);
        let off_lo = 16 + 8 * c.index as u32;
        let off_hi = off_lo + 4;
        let ok = self.label();
        let f = Target::To(fail);
        let o = Target::To(ok);
        let n = Target::Next;
        // On a 32-bit ABI only the low half exists (libseccomp compares it alone).
        let with_hi = !c.args32;
        match op {
            CondOp::Eq => {
                if with_hi {
                    self.push(LD_W_ABS, off_hi);
                    self.jump(JMP_JEQ_K, hi(v), n, f);
                }
                self.push(LD_W_ABS, off_lo);
                self.jump(JMP_JEQ_K, lo(v), n, f);
            }
            CondOp::Ne => {
                if with_hi {
                    self.push(LD_W_ABS, off_hi);
                    self.jump(JMP_JEQ_K, hi(v), n, o);
                }
                self.push(LD_W_ABS, off_lo);
                self.jump(JMP_JEQ_K, lo(v), f, n);
            }
            CondOp::MaskedEq => {
                if with_hi {
                    self.push(LD_W_ABS, off_hi);
                    self.push(ALU_AND_K, hi(v));
                    self.jump(JMP_JEQ_K, hi(v2), n, f);
                }
                self.push(LD_W_ABS, off_lo);
                self.push(ALU_AND_K, lo(v));
                self.jump(JMP_JEQ_K, lo(v2), n, f);
            }
            CondOp::Gt | CondOp::Ge | CondOp::Lt | CondOp::Le => {
                // GT/GE hold when the high word is greater, or equal with the low word
                // greater (or equal); LT/LE are their negations.
                let positive = matches!(op, CondOp::Gt | CondOp::Ge);
                let low_op = if matches!(op, CondOp::Gt | CondOp::Le) {
                    JMP_JGT_K
                } else {
                    JMP_JGE_K
                };
                let (yes, no) = if positive { (o, f) } else { (f, o) };
                if with_hi {
                    self.push(LD_W_ABS, off_hi);
                    self.jump(JMP_JGT_K, hi(v), yes, n);
                    self.jump(JMP_JEQ_K, hi(v), n, no);
                }
                self.push(LD_W_ABS, off_lo);
                self.jump(low_op, lo(v), yes, no);
            }
        }
        self.bind(ok);
    }

    pub fn finish(mut self) -> Result<Vec<Insn>, Error> {
        let pos = |labels: &Vec<Option<usize>>, l: Label| {
            labels[l.0].ok_or_else(|| Error::Invalid("internal: unbound label".into()))
        };
        for p in std::mem::take(&mut self.pending) {
            for (t, slot) in [(p.jt, 0), (p.jf, 1)] {
                let off = match t {
                    Target::Next => 0,
                    Target::To(l) => {
                        let to = pos(&self.labels, l)?;
                        to.checked_sub(p.at + 1)
                            .ok_or_else(|| Error::Invalid("internal: backward jump".into()))?
                    }
                };
                let off = u8::try_from(off).map_err(|_| {
                    Error::Invalid("a rule block is too long for a BPF jump".into())
                })?;
                if slot == 0 {
                    self.code[p.at].jt = off;
                } else {
                    self.code[p.at].jf = off;
                }
            }
        }
        for (at, l) in std::mem::take(&mut self.far) {
            let to = pos(&self.labels, l)?;
            self.code[at].k = (to - (at + 1)) as u32;
        }
        Ok(self.code)
    }
}

//! Classic BPF as seccomp uses it: the instruction type, and an interpreter that runs a
//! program against a `seccomp_data`, so compiled profiles are tested without a kernel.

/// `struct sock_filter`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

pub const LD_W_ABS: u16 = 0x20;
pub const ALU_AND_K: u16 = 0x54;
pub const JMP_JA: u16 = 0x05;
pub const JMP_JEQ_K: u16 = 0x15;
pub const JMP_JGT_K: u16 = 0x25;
pub const JMP_JGE_K: u16 = 0x35;
pub const RET_K: u16 = 0x06;

/// `struct seccomp_data`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeccompData {
    pub nr: i32,
    pub arch: u32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}

impl SeccompData {
    fn word(&self, off: u32, big_endian: bool) -> Option<u32> {
        Some(match off {
            0 => self.nr as u32,
            4 => self.arch,
            8 | 12 => {
                let ip = self.instruction_pointer;
                if (off == 8) != big_endian {
                    ip as u32
                } else {
                    (ip >> 32) as u32
                }
            }
            16..=63 if off.is_multiple_of(4) => {
                let a = self.args[((off - 16) / 8) as usize];
                // The first word of a u64 is its low half on a little-endian kernel.
                if (off - 16).is_multiple_of(8) != big_endian {
                    a as u32
                } else {
                    (a >> 32) as u32
                }
            }
            _ => return None,
        })
    }
}

/// Runs `prog` like a little-endian kernel would; None for an invalid program.
pub fn run(prog: &[Insn], data: &SeccompData) -> Option<u32> {
    run_on(prog, data, false)
}

/// Runs `prog` like a kernel of that byte order would (s390x, ppc64 and mips are big-endian).
pub fn run_on(prog: &[Insn], data: &SeccompData, big_endian: bool) -> Option<u32> {
    let (mut a, mut pc) = (0u32, 0usize);
    loop {
        let i = prog.get(pc)?;
        pc += 1;
        match i.code {
            LD_W_ABS => a = data.word(i.k, big_endian)?,
            ALU_AND_K => a &= i.k,
            JMP_JA => pc += i.k as usize,
            JMP_JEQ_K | JMP_JGT_K | JMP_JGE_K => {
                let t = match i.code {
                    JMP_JEQ_K => a == i.k,
                    JMP_JGT_K => a > i.k,
                    _ => a >= i.k,
                };
                pc += if t { i.jt } else { i.jf } as usize;
            }
            RET_K => return Some(i.k),
            _ => return None,
        }
    }
}

/// What the kernel checks before it accepts a filter: a length it takes, every jump inside
/// the program, and a `ret` at the end.
pub fn check(prog: &[Insn]) -> bool {
    if prog.is_empty() || prog.len() > 4096 || prog[prog.len() - 1].code != RET_K {
        return false;
    }
    prog.iter().enumerate().all(|(pc, i)| {
        let left = prog.len() - pc - 1;
        match i.code {
            JMP_JA => (i.k as usize) < left,
            JMP_JEQ_K | JMP_JGT_K | JMP_JGE_K => (i.jt as usize) < left && (i.jf as usize) < left,
            LD_W_ABS => i.k < 64 && i.k.is_multiple_of(4),
            ALU_AND_K | RET_K => true,
            _ => false,
        }
    })
}

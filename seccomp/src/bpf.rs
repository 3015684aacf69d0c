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
    fn word(&self, off: u32) -> Option<u32> {
        Some(match off {
            0 => self.nr as u32,
            4 => self.arch,
            8 => self.instruction_pointer as u32,
            12 => (self.instruction_pointer >> 32) as u32,
            16..=63 if off.is_multiple_of(4) => {
                let a = self.args[((off - 16) / 8) as usize];
                if (off - 16).is_multiple_of(8) {
                    a as u32
                } else {
                    (a >> 32) as u32
                }
            }
            _ => return None,
        })
    }
}

/// Runs `prog` like the kernel would; None for an invalid program.
pub fn run(prog: &[Insn], data: &SeccompData) -> Option<u32> {
    let (mut a, mut pc) = (0u32, 0usize);
    loop {
        let i = prog.get(pc)?;
        pc += 1;
        match i.code {
            LD_W_ABS => a = data.word(i.k)?,
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

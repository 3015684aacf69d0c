//! The bpf(2) calls that put a device program on a cgroup2 directory: load, attach,
//! query, detach. Only what v2 device control needs.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use crate::devices::Insn;
use crate::{io_err, Result};

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Other programs (a parent's, systemd's) stay attached; access needs all to allow.
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The kernel needs a license string; no GPL-only helper is called, so the crate's own.
const LICENSE: &[u8] = b"Apache-2.0\0";

fn sys_bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<libc::c_long> {
    // SAFETY: attr is a live, fully initialised bpf_attr prefix of the size given.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

#[repr(C)]
#[derive(Default)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
}

/// A loaded program, closed (and so unloaded, unless attached) when dropped.
pub(crate) struct Program(OwnedFd);

/// Loads a device program. `dir` only names the cgroup in errors.
pub(crate) fn load(prog: &[Insn], dir: &Path) -> Result<Program> {
    let code: Vec<u8> = prog.iter().flat_map(|i| i.encode()).collect();
    let mut log = vec![0u8; 0];
    let mut attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: code.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        ..Default::default()
    };
    // Shown by bpftool, so an operator can tell whose program it is.
    attr.prog_name[..12].copy_from_slice(b"hull_devices");
    let mut raised_memlock = None;
    loop {
        match sys_bpf(BPF_PROG_LOAD, &mut attr) {
            Ok(fd) => {
                restore_memlock(raised_memlock);
                // SAFETY: the kernel returned a new fd that nothing else owns.
                return Ok(Program(unsafe { OwnedFd::from_raw_fd(fd as i32) }));
            }
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => continue,
            // Before 5.11 the program's memory counts against RLIMIT_MEMLOCK: raise it for
            // this load only, so that the container does not inherit it.
            Err(e) if e.raw_os_error() == Some(libc::EPERM) && raised_memlock.is_none() => {
                match raise_memlock() {
                    Some(old) => raised_memlock = Some(old),
                    None => return Err(io_err("bpf load device program for", dir)(e)),
                }
            }
            // Once more with the verifier's log, for the error.
            Err(e) if attr.log_level == 0 && e.raw_os_error() != Some(libc::EPERM) => {
                log = vec![0u8; 64 << 10];
                attr.log_level = 1;
                attr.log_size = log.len() as u32;
                attr.log_buf = log.as_mut_ptr() as u64;
            }
            Err(e) => {
                restore_memlock(raised_memlock);
                let text = String::from_utf8_lossy(&log);
                let text = text.trim_end_matches('\0').trim();
                let e = if text.is_empty() {
                    e
                } else {
                    std::io::Error::new(e.kind(), format!("{e}: {text}"))
                };
                return Err(io_err("bpf load device program for", dir)(e));
            }
        }
    }
}

fn raise_memlock() -> Option<libc::rlimit> {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    let inf = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: plain rlimit calls on our own process with valid pointers.
    let ok = unsafe {
        libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut old) == 0
            && libc::setrlimit(libc::RLIMIT_MEMLOCK, &inf) == 0
    };
    ok.then_some(old)
}

fn restore_memlock(old: Option<libc::rlimit>) {
    if let Some(old) = old {
        // SAFETY: as above.
        unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &old) };
    }
}

#[repr(C)]
#[derive(Default)]
struct Attach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct Query {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Default)]
struct GetFdById {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

fn open_dir(dir: &Path) -> Result<std::fs::File> {
    std::fs::File::open(dir).map_err(io_err("open", dir))
}

/// The ids of the device programs attached to the cgroup `dir` itself.
pub(crate) fn query(dir: &Path) -> Result<Vec<u32>> {
    let d = open_dir(dir)?;
    let mut ids = vec![0u32; 64];
    loop {
        let mut q = Query {
            target_fd: d.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            ..Default::default()
        };
        match sys_bpf(BPF_PROG_QUERY, &mut q) {
            Ok(_) => {
                ids.truncate(q.prog_cnt as usize);
                return Ok(ids);
            }
            // More than we had room for: prog_cnt says how many.
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) && q.prog_cnt as usize > ids.len() => {
                ids = vec![0u32; q.prog_cnt as usize];
            }
            Err(e) => return Err(io_err("bpf query device programs of", dir)(e)),
        }
    }
}

/// Attaches `prog` to the cgroup `dir`, then detaches every device program that was there
/// before (with ALLOW_MULTI both apply meanwhile, so access is never wider than either).
pub(crate) fn replace(dir: &Path, prog: Option<&Program>) -> Result<()> {
    let old = query(dir)?;
    let d = open_dir(dir)?;
    if let Some(p) = prog {
        let mut a = Attach {
            target_fd: d.as_raw_fd() as u32,
            attach_bpf_fd: p.0.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            attach_flags: BPF_F_ALLOW_MULTI,
        };
        sys_bpf(BPF_PROG_ATTACH, &mut a).map_err(io_err("bpf attach device program to", dir))?;
    }
    for id in old {
        let mut g = GetFdById {
            prog_id: id,
            ..Default::default()
        };
        let fd = match sys_bpf(BPF_PROG_GET_FD_BY_ID, &mut g) {
            // SAFETY: a new fd from the kernel.
            Ok(fd) => unsafe { OwnedFd::from_raw_fd(fd as i32) },
            // Gone meanwhile.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(io_err("bpf get device program of", dir)(e)),
        };
        let mut a = Attach {
            target_fd: d.as_raw_fd() as u32,
            attach_bpf_fd: fd.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            attach_flags: 0,
        };
        match sys_bpf(BPF_PROG_DETACH, &mut a) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(io_err("bpf detach old device program from", dir)(e)),
        }
    }
    Ok(())
}

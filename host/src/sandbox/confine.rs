//! Confining a granted program (the `exec` capability) with Landlock, where
//! the kernel has it: the program may read and run what lives in the
//! system directories and its own installation, may write only its scratch
//! copy of the workspace and a private temporary directory, may not bind or
//! connect TCP sockets, signal processes outside itself, or reach abstract
//! Unix sockets. Everything else on the machine — the user's home, the real
//! workspace, other runs — is out of its reach.
//!
//! The ruleset is built in the host before the fork; the child only makes
//! two system calls (`prctl(PR_SET_NO_NEW_PRIVS)` and
//! `landlock_restrict_self`) between fork and exec, which allocate nothing.
//! Where Landlock is missing (old kernels, disabled LSM) the program runs
//! unconfined and the host says so every time.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, Scope,
};

/// The newest Landlock ABI this code knows; older kernels get what they support.
const ABI_WANTED: ABI = ABI::V6;

/// Directories every program may read and execute from, when they exist.
const SYSTEM: [&str; 9] = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc", "/opt", "/proc"];

/// A ruleset ready to be applied in a child, or why there is none.
pub enum Confinement {
    Ready(OwnedFd),
    Unavailable(String),
}

/// The program's installation: for `<prefix>/bin/<program>`, `<prefix>`, both
/// as named and with symlinks resolved (a virtualenv's `bin/python3` points
/// into the interpreter's own prefix, and both are needed).
fn installation(program: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in [Some(program.to_path_buf()), program.canonicalize().ok()].into_iter().flatten() {
        if let Some(prefix) = p.parent().and_then(Path::parent)
            && prefix != Path::new("/")
        {
            out.push(prefix.to_path_buf());
        }
    }
    out
}

/// Build the ruleset for `program` (a resolved path) writing only `writable`.
/// `host_proc`: whether the host's `/proc` is readable; a program in its own
/// PID namespace gets its fresh `/proc` added in the child instead
/// ([`super::isolate`]), and never the host's.
pub fn prepare(program: &Path, writable: &[&Path], host_proc: bool) -> Confinement {
    match build(program, writable, host_proc) {
        Ok(Some(fd)) => Confinement::Ready(fd),
        Ok(None) => Confinement::Unavailable("the kernel does not support Landlock".into()),
        Err(e) => Confinement::Unavailable(e),
    }
}

fn build(program: &Path, writable: &[&Path], host_proc: bool) -> Result<Option<OwnedFd>, String> {
    let e = |e: landlock::RulesetError| e.to_string();
    let read = AccessFs::from_read(ABI_WANTED);
    let all = AccessFs::from_all(ABI_WANTED);
    let mut readable: Vec<PathBuf> = SYSTEM.iter().filter(|d| host_proc || **d != "/proc").map(PathBuf::from).collect();
    readable.extend(installation(program));
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(all)
        .and_then(|r| r.handle_access(AccessNet::from_all(ABI_WANTED)))
        .and_then(|r| r.scope(Scope::AbstractUnixSocket | Scope::Signal))
        .and_then(|r| r.create())
        .map_err(e)?;
    for dir in readable.iter().filter(|d| d.exists()) {
        if let Ok(fd) = PathFd::new(dir) {
            ruleset = ruleset.add_rule(PathBeneath::new(fd, read)).map_err(e)?;
        }
    }
    // Devices: read and write (/dev/null, /dev/urandom, a tty), nothing more.
    if let Ok(fd) = PathFd::new("/dev") {
        ruleset = ruleset.add_rule(PathBeneath::new(fd, read | AccessFs::WriteFile)).map_err(e)?;
    }
    for dir in writable {
        let fd = PathFd::new(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
        ruleset = ruleset.add_rule(PathBeneath::new(fd, all)).map_err(e)?;
    }
    Ok(ruleset.into())
}

/// Apply `ruleset` to the child `cmd` spawns, between fork and exec.
pub fn apply(cmd: &mut Command, ruleset: OwnedFd) {
    let fd = ruleset.as_raw_fd();
    // SAFETY: the closure runs in the forked child before exec. It only makes
    // two raw system calls (prctl and landlock_restrict_self), both
    // async-signal-safe, touches no lock and allocates nothing; `fd` stays
    // open in the child because `ruleset` is moved into the closure, which
    // lives until after the spawn, and the kernel created it close-on-exec.
    unsafe {
        cmd.pre_exec(move || {
            let _keep = &ruleset;
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::syscall(libc::SYS_landlock_restrict_self, fd, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// `program` as the child will run it: a path as given, or the first match
/// on `path` (the child's `PATH`).
pub fn resolve(program: &str, path: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    path.split(':').map(|dir| Path::new(dir).join(program)).find(|p| p.is_file())
}

/// The kernel's Landlock ABI version, if it has Landlock enabled.
pub fn kernel_abi() -> Option<i64> {
    // SAFETY: with a null attribute, size 0 and the VERSION flag the call
    // only returns a number (or -1); it reads and writes no memory of ours.
    let v = unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, std::ptr::null::<u8>(), 0usize, 1u32) };
    (v > 0).then_some(v)
}

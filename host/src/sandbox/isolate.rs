//! The process tree a granted program (the `exec` capability) runs in, and
//! how it ends: isolation beyond Landlock ([`super::confine`]) and
//! containment.
//!
//! * **Namespaces**, where the kernel lets the host create them: the spawned
//!   child C enters fresh PID, mount, network and IPC namespaces (and, when
//!   the host is not root, a user namespace mapping only its own uid and
//!   gid), then forks G, PID 1 of the new PID namespace. G makes every mount
//!   private, mounts a fresh `/proc` (the program sees only its own
//!   processes, never the host's `environ` or `cmdline`) and an empty tmpfs
//!   on `/run` (no daemon's Unix socket there), then forks P, which takes
//!   the grant's rlimits and becomes the program. The network namespace has
//!   only its loopback interface, down: no TCP, no UDP, no abstract Unix
//!   socket reaches outside.
//! * **Containment**: G exits as soon as P does, and the kernel then kills
//!   everything left in the namespace — daemons, double forks, background
//!   jobs holding the output pipes. When the host kills C (at the deadline,
//!   or when the call is dropped), G dies of `PR_SET_PDEATHSIG` with the
//!   same effect; C dies the same way if the host itself dies.
//! * **Fallback**, where namespaces are unavailable: P is C itself, in a
//!   process group of its own that the host kills as a whole when the call
//!   ends, and in the call's `pids` cgroup if there is one, whose every
//!   process the host kills too. A program that calls `setsid` leaves the
//!   group (not the cgroup); the host warns on every call, and a grant with
//!   `require_isolation` refuses instead.
//! * **Limits**: RLIMIT_AS, RLIMIT_CPU and RLIMIT_NPROC in P, and a v1
//!   `pids` cgroup where the host may create one (RLIMIT_NPROC does not bind
//!   root).
//!
//! Everything after `fork` is raw, async-signal-safe system calls on data
//! prepared before it: no allocation, no lock, no `atfork` handler (forks
//! are raw `clone` calls for that reason).

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const NAMESPACES: libc::c_int = libc::CLONE_NEWPID | libc::CLONE_NEWNS | libc::CLONE_NEWNET | libc::CLONE_NEWIPC;

/// Landlock's read access (execute, read file, read directory: ABI 1, so
/// every Landlock kernel handles them), granted beneath the fresh `/proc`.
const LANDLOCK_READ: u64 = 1 | (1 << 2) | (1 << 3);
const LANDLOCK_RULE_PATH_BENEATH: libc::c_int = 1;

/// Where the v1 `pids` controller is mounted, when it is.
const PIDS_ROOT: &str = "/sys/fs/cgroup/pids";

/// What the grant lets the program's process tree use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Processes (and threads) at once.
    pub processes: u64,
    /// Address space of each process, in bytes.
    pub memory: u64,
    /// CPU time of each process.
    pub cpu: Duration,
}

/// How a call's program is isolated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Fresh PID, mount, network and IPC namespaces.
    Namespaces,
    /// Only a process group of its own; `why` namespaces are unavailable.
    ProcessGroup { why: String },
}

/// The grant requires isolation this host cannot give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the grant requires isolation, but namespaces are unavailable here ({why})")]
pub struct Unisolated {
    pub why: String,
}

/// The plan for a call: namespaces when `available`, else a process group
/// unless the grant `require`s isolation.
pub fn decide(available: Result<(), &str>, require: bool) -> Result<Plan, Unisolated> {
    match available {
        Ok(()) => Ok(Plan::Namespaces),
        Err(why) if require => Err(Unisolated { why: why.to_string() }),
        Err(why) => Ok(Plan::ProcessGroup { why: why.to_string() }),
    }
}

/// Whether this host can create the namespaces; probed once per process
/// (the answer depends on the kernel and on who the host runs as, neither
/// of which changes while it runs).
pub fn namespaces() -> Result<(), &'static str> {
    static PROBED: OnceLock<Result<(), String>> = OnceLock::new();
    PROBED.get_or_init(probe).as_ref().map(|_| ()).map_err(String::as_str)
}

/// The user namespace maps for a host that is not root, written before the
/// fork so the child only copies bytes.
struct IdMaps {
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
}

fn id_maps() -> Option<IdMaps> {
    // SAFETY: geteuid/getegid cannot fail and touch no memory of ours.
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    (euid != 0).then(|| IdMaps {
        // Only the host's own ids, mapped to themselves: the program keeps
        // its uid and has no capability once it has exec'd.
        uid_map: format!("{euid} {euid} 1\n").into_bytes(),
        gid_map: format!("{egid} {egid} 1\n").into_bytes(),
    })
}

/// Try the whole namespace setup in a throw-away child.
fn probe() -> Result<(), String> {
    let maps = id_maps();
    let run = path_exists(c"/run");
    // SAFETY: a raw fork (clone with only SIGCHLD). The child runs nothing
    // but async-signal-safe system calls on memory prepared above (maps,
    // string literals) and always leaves through `_exit`, so the parent's
    // locks and threads, which the child does not have, are never touched.
    let pid = unsafe { raw_fork() };
    if pid < 0 {
        return Err(format!("fork: {}", io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: see above; `_exit` never returns.
        unsafe { libc::_exit(probe_child(maps.as_ref(), run)) }
    }
    let code = wait_code(pid).map_err(|e| format!("waitpid: {e}"))?;
    let err = |code: i32| io::Error::from_raw_os_error(code);
    match code {
        0 => Ok(()),
        1..=99 => Err(format!("cannot create PID, mount, network and IPC namespaces: {}", err(code))),
        100..=149 => Err(format!("cannot write the user namespace's id maps: {}", err(code - 100))),
        150..=199 => Err(format!("cannot mount a fresh /proc: {}", err(code - 150))),
        _ => Err(format!("the namespace probe ended with status {code}")),
    }
}

/// The probe's child: 0, or a stage and an errno packed as `probe` reads it.
fn probe_child(maps: Option<&IdMaps>, run: bool) -> libc::c_int {
    let errno = |base: i32| base + errno_now().clamp(1, 49);
    if unshare_all(maps.is_some()).is_err() {
        return errno(0);
    }
    if let Some(maps) = maps
        && write_maps(maps).is_err()
    {
        return errno(100);
    }
    // SAFETY: as in `probe`: raw fork, the child ends in `_exit`.
    let pid = unsafe { raw_fork() };
    if pid < 0 {
        return errno(0);
    }
    if pid == 0 {
        let code = if mount_fresh(run).is_err() { errno(150) } else { 0 };
        // SAFETY: `_exit` ends this child without running anything of the parent's.
        unsafe { libc::_exit(code) }
    }
    wait_code(pid).unwrap_or(255)
}

fn errno_now() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// `fork` as a raw system call: glibc's `fork` would run `atfork` handlers,
/// which may take locks that another thread of the host held at the fork.
///
/// # Safety
/// The child must only make async-signal-safe calls and end in `_exit` or `exec`.
unsafe fn raw_fork() -> libc::pid_t {
    // SAFETY: clone with flags = SIGCHLD and no new stack is fork(2); the
    // caller upholds what the child may do.
    unsafe { libc::syscall(libc::SYS_clone, libc::SIGCHLD as libc::c_long, 0 as libc::c_long, 0 as libc::c_long, 0 as libc::c_long, 0 as libc::c_long) as libc::pid_t }
}

fn path_exists(path: &CStr) -> bool {
    // SAFETY: `path` is NUL-terminated; access only reads it.
    unsafe { libc::access(path.as_ptr(), libc::F_OK) == 0 }
}

/// Enter the new namespaces (and the user namespace first, if `maps`).
fn enter(maps: Option<&IdMaps>) -> io::Result<()> {
    unshare_all(maps.is_some())?;
    maps.map_or(Ok(()), write_maps)
}

fn unshare_all(user: bool) -> io::Result<()> {
    let flags = NAMESPACES | if user { libc::CLONE_NEWUSER } else { 0 };
    // SAFETY: unshare takes only flags.
    if unsafe { libc::unshare(flags) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn write_maps(maps: &IdMaps) -> io::Result<()> {
    // An unprivileged process must deny setgroups before it may write its gid_map.
    write_file(c"/proc/self/setgroups", b"deny")?;
    write_file(c"/proc/self/uid_map", &maps.uid_map)?;
    write_file(c"/proc/self/gid_map", &maps.gid_map)
}

fn write_file(path: &CStr, bytes: &[u8]) -> io::Result<()> {
    // SAFETY: `path` is NUL-terminated; open, write and close are
    // async-signal-safe and write reads only `bytes`, which outlives the call.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
        let err = io::Error::last_os_error();
        libc::close(fd);
        if n != bytes.len() as isize {
            return Err(err);
        }
    }
    Ok(())
}

/// In G, inside the new mount namespace: make every mount private (nothing
/// propagates back to the host), mount a fresh `/proc` for the new PID
/// namespace, and hide `/run`'s sockets under an empty tmpfs.
fn mount_fresh(run: bool) -> io::Result<()> {
    let null = std::ptr::null::<libc::c_char>();
    // SAFETY: every pointer is a NUL-terminated literal or null, which mount
    // accepts for the arguments passed null here.
    unsafe {
        if libc::mount(null, c"/".as_ptr(), null, libc::MS_REC | libc::MS_PRIVATE, std::ptr::null()) != 0 {
            return Err(io::Error::last_os_error());
        }
        let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        if libc::mount(c"proc".as_ptr(), c"/proc".as_ptr(), c"proc".as_ptr(), flags, std::ptr::null()) != 0 {
            return Err(io::Error::last_os_error());
        }
        if run && libc::mount(c"tmpfs".as_ptr(), c"/run".as_ptr(), c"tmpfs".as_ptr(), flags, c"size=16k,mode=755".as_ptr().cast()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Let Landlock's `ruleset` read the fresh `/proc`: the host's rule for
/// `/proc` names the host's proc mount, not this one.
fn allow_proc(ruleset: RawFd) -> io::Result<()> {
    #[repr(C, packed)]
    struct PathBeneath {
        allowed_access: u64,
        parent_fd: i32,
    }
    // SAFETY: the path is a NUL-terminated literal; `attr` lives across the
    // landlock_add_rule call, which only reads it; the fd is closed after.
    unsafe {
        let fd = libc::open(c"/proc".as_ptr(), libc::O_PATH | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let attr = PathBeneath { allowed_access: LANDLOCK_READ, parent_fd: fd };
        let rc = libc::syscall(libc::SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &attr as *const PathBeneath, 0u32);
        let err = io::Error::last_os_error();
        libc::close(fd);
        if rc != 0 {
            return Err(err);
        }
    }
    Ok(())
}

/// Wait for `pid`, retrying on EINTR; its status as an exit code (128 +
/// signal for a signal, as a shell reports it).
fn wait_code(pid: libc::pid_t) -> io::Result<libc::c_int> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer for the call.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return Ok(code_of(status));
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(err);
        }
    }
}

fn code_of(status: libc::c_int) -> libc::c_int {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        1
    }
}

/// Die with the thread that forked us (the host's calling thread for C, C
/// for G, G for P), and not a moment later.
fn die_with_parent() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// For C and G, which never exec: close every inherited descriptor but the
/// standard three — above all std's close-on-exec error pipe, which `spawn`
/// reads until EOF — and block every signal (a program without Landlock's
/// signal scope must not run a host signal handler in them).
fn become_waiter() {
    // SAFETY: close_range takes integers; sigfillset/sigprocmask write only
    // the local `set`, and blocking signals in this single-threaded child
    // affects nothing else. SIGKILL (our PDEATHSIG) cannot be blocked.
    unsafe {
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
            for fd in 3..4096 {
                libc::close(fd);
            }
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// P's limits, set before it execs the program.
fn set_limits(limits: &Limits) -> io::Result<()> {
    let cpu = limits.cpu.as_secs().max(1);
    for (resource, soft, hard) in [
        (libc::RLIMIT_AS, limits.memory, limits.memory),
        // SIGXCPU at the soft limit, SIGKILL a second later.
        (libc::RLIMIT_CPU, cpu, cpu.saturating_add(1)),
        (libc::RLIMIT_NPROC, limits.processes, limits.processes),
    ] {
        let lim = libc::rlimit { rlim_cur: soft, rlim_max: hard };
        // SAFETY: `lim` is a valid rlimit the call only reads.
        if unsafe { libc::setrlimit(resource, &lim) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A v1 `pids` cgroup of one call: a real cap on its processes, root or
/// not. Removed when dropped (once its processes are gone).
pub struct PidsCgroup {
    dir: PathBuf,
    procs: OwnedFd,
}

impl PidsCgroup {
    /// A cgroup allowing `max` processes, or why there is none.
    pub fn create(max: u64) -> Result<PidsCgroup, String> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let root = Path::new(PIDS_ROOT);
        if !root.join("cgroup.procs").exists() {
            return Err(format!("no v1 pids cgroup at {PIDS_ROOT}"));
        }
        let dir = root.join("taylordash").join(format!("exec-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
        let shown = dir.display().to_string();
        let fail = |e: io::Error| format!("{shown}: {e}");
        std::fs::create_dir_all(&dir).map_err(fail)?;
        let procs = std::fs::File::options().write(true).open(dir.join("cgroup.procs")).map_err(fail)?.into();
        // Made before pids.max is written, so that a failure removes the directory.
        let made = PidsCgroup { procs, dir };
        std::fs::write(made.dir.join("pids.max"), max.to_string()).map_err(fail)?;
        Ok(made)
    }
}

impl PidsCgroup {
    /// Kill every process in the cgroup, those that left the program's
    /// process group with `setsid` included; again while any remain (one
    /// may fork between the read and the kill), for 100 ms at most.
    pub fn kill_all(&self) {
        let until = Instant::now() + Duration::from_millis(100);
        loop {
            let pids: Vec<libc::pid_t> = std::fs::read_to_string(self.dir.join("cgroup.procs"))
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect();
            if pids.is_empty() || Instant::now() >= until {
                return;
            }
            for pid in pids {
                // SAFETY: kill takes integers and touches no memory. (A pid
                // read from this call's cgroup is one of the program's; only
                // if it exits and its number is reused between the read and
                // the kill could another process be hit — the window every
                // pid-based kill has, here microseconds long.)
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for PidsCgroup {
    fn drop(&mut self) {
        // A killed namespace empties a moment after its init is reaped.
        let until = Instant::now() + Duration::from_millis(200);
        while std::fs::remove_dir(&self.dir).is_err() {
            if Instant::now() >= until {
                tracing::warn!(dir = %self.dir.display(), "exec: cannot remove the call's pids cgroup");
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn join_cgroup(procs: RawFd) -> io::Result<()> {
    // "0" moves the writing process; its children follow it in.
    // SAFETY: writes one byte from a literal to an open descriptor.
    if unsafe { libc::write(procs, b"0".as_ptr().cast(), 1) } != 1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Arrange for `cmd` to run its program as `plan` says, under `limits`, in
/// `cgroup` if any. `ruleset` is the Landlock ruleset [`super::confine`]
/// applies after this (its `pre_exec` must be registered after this one),
/// so that the fresh `/proc` can be added to it.
pub fn configure(cmd: &mut Command, plan: &Plan, limits: Limits, ruleset: Option<RawFd>, cgroup: Option<&PidsCgroup>) -> io::Result<()> {
    let procs = cgroup.map(|c| c.procs.try_clone()).transpose()?;
    let namespaces = matches!(plan, Plan::Namespaces);
    let maps = if namespaces { id_maps() } else { None };
    let run = path_exists(c"/run");
    if !namespaces {
        cmd.process_group(0);
    }
    // SAFETY: the closure runs in the forked child before exec and makes
    // only async-signal-safe system calls (prctl, write, unshare, open,
    // mount, landlock_add_rule, raw clone, close_range, sigprocmask,
    // waitpid, setrlimit, _exit) on data captured before the fork (`procs`,
    // `maps`, literals); it allocates nothing and takes no lock. The
    // processes that do not exec (C, G) leave only through `_exit`, after
    // closing the error pipe std reads, so `spawn` returns once P has
    // exec'd, or reports the error of whichever of them failed first.
    unsafe {
        cmd.pre_exec(move || {
            die_with_parent()?;
            if let Some(procs) = &procs {
                join_cgroup(procs.as_raw_fd())?;
            }
            if namespaces {
                enter(maps.as_ref())?;
                // C: fork G, then wait for it and pass on its status.
                let g = raw_fork();
                if g < 0 {
                    return Err(io::Error::last_os_error());
                }
                if g > 0 {
                    become_waiter();
                    libc::_exit(wait_code(g).unwrap_or(1));
                }
                // G: PID 1 of the new namespace.
                die_with_parent()?;
                mount_fresh(run)?;
                if let Some(ruleset) = ruleset {
                    allow_proc(ruleset)?;
                }
                let p = raw_fork();
                if p < 0 {
                    return Err(io::Error::last_os_error());
                }
                if p > 0 {
                    become_waiter();
                    libc::_exit(reap_until(p));
                }
                // P: becomes the program.
                die_with_parent()?;
            }
            set_limits(&limits)?;
            Ok(())
        });
    }
    Ok(())
}

/// G's loop as init of the namespace: reap every orphan that is reparented
/// to it, and leave with P's status as soon as P ends — the kernel then
/// kills whatever else is left in the namespace.
fn reap_until(p: libc::pid_t) -> libc::c_int {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer for the call.
        let r = unsafe { libc::waitpid(-1, &mut status, 0) };
        if r == p {
            return code_of(status);
        }
        if r < 0 && errno_now() != libc::EINTR {
            return 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_when_available_else_a_process_group_unless_required() {
        assert_eq!(decide(Ok(()), false), Ok(Plan::Namespaces));
        assert_eq!(decide(Ok(()), true), Ok(Plan::Namespaces));
        assert_eq!(decide(Err("no"), false), Ok(Plan::ProcessGroup { why: "no".into() }));
        let refused = decide(Err("unshare: Operation not permitted"), true).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "the grant requires isolation, but namespaces are unavailable here (unshare: Operation not permitted)"
        );
    }

    #[test]
    fn statuses_read_as_a_shell_reports_them() {
        assert_eq!(code_of(3 << 8), 3);
        assert_eq!(code_of(libc::SIGKILL), 137);
    }
}

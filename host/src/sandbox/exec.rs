//! The granted side of the `exec` import: run a program the policy allows.
//!
//! What this contains: the program runs in a scratch copy of the workspace
//! (never the workspace itself), with a cleared environment, a deadline
//! (the grant's timeout, or the call's own deadline if that comes first)
//! and an output cap; files it creates or changes in the scratch copy come
//! back through the call's `/out` staging directory, so the usual merge rules
//! (`add_only`) apply. Where the kernel allows ([`super::isolate`]), it runs
//! in fresh PID, mount, network and IPC namespaces: it sees only its own
//! processes, has no network at all, and every process it starts dies with
//! the call. Where the kernel has Landlock ([`super::confine`]), the program
//! can read only the system directories and its own installation, write
//! only the scratch copy and a private `TMPDIR`, and open no TCP
//! connections. Its processes, memory and CPU time are capped by the grant.
//! What it cannot contain: the program runs as the host user; without
//! namespaces it shares the host's network (bar Landlock's TCP rule) and a
//! daemon that leaves its process group outlives the call; without Landlock
//! it has that user's whole filesystem. Grant only programs you would run
//! yourself on the inputs the pipeline gives them.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use super::capabilities::ExecGrant;
use super::confine::{self, Confinement};
use super::isolate::{self, Limits, PidsCgroup, Plan, Unisolated};
use super::staging::{copy_tree, copy_changed};

/// What a finished program left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub status: i32,
    /// Bytes of files it left that were staged into `/out`.
    pub staged: u64,
    pub stdout: String,
    pub stderr: String,
}

const SAFE_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// How long after the deadline the host still waits for the output pipes to
/// close. Past it the readers are abandoned: a process the host could not
/// kill (one that left its process group, where there are no namespaces)
/// must not hold the call.
const GRACE: Duration = Duration::from_millis(100);

/// How the program will be isolated on this host, or why the grant refuses
/// to run it here. Ask before running: a refusal is a denial.
pub fn plan(grant: &ExecGrant) -> Result<Plan, Unisolated> {
    isolate::decide(isolate::namespaces(), grant.require_isolation)
}

/// One program a guest asked to run.
#[derive(Debug, Clone, Copy)]
pub struct ExecRequest<'a> {
    pub program: &'a str,
    pub args: &'a [String],
    pub stdin: Option<&'a str>,
    /// Copied into the program's scratch directory, its working directory.
    pub workspace: Option<&'a Path>,
    /// Where the files it creates or changes are staged, and how many bytes may be.
    pub out: Option<(&'a Path, u64)>,
    /// The call's deadline: the program ends by then at the latest.
    pub deadline: Instant,
}

/// Run `req.program` under `grant` as `plan` says, ending it (and everything
/// it started) by `req.deadline` at the latest. `Err` is a message for the guest.
pub fn run_granted(grant: &ExecGrant, plan: &Plan, req: &ExecRequest<'_>) -> Result<ExecOutput, String> {
    let ExecRequest { program, stdin, workspace, out, .. } = *req;
    let started = Instant::now();
    let own_deadline = started + grant.timeout;
    let deadline = req.deadline.min(own_deadline);
    let scratch = tempfile::tempdir().map_err(|e| format!("exec: no scratch directory: {e}"))?;
    let tmp = tempfile::tempdir().map_err(|e| format!("exec: no temporary directory: {e}"))?;
    let copied = match workspace {
        Some(ws) => copy_tree(ws, scratch.path()).map_err(|e| format!("exec: cannot copy the workspace: {e}"))?,
        None => Default::default(),
    };
    // From here on, every way out of this function kills the program's tree.
    let mut tree = spawn_confined(grant, plan, req, scratch.path(), tmp.path())?;

    let cap = grant.output;
    let out_reader = tree.child.stdout.take().map(|s| capture(s, cap));
    let err_reader = tree.child.stderr.take().map(|s| capture(s, cap));
    if let (Some(text), Some(mut pipe)) = (stdin, tree.child.stdin.take()) {
        let text = text.to_string();
        // A program that never reads its stdin must not block us: write from a thread.
        std::thread::spawn(move || {
            let _ = std::io::Write::write_all(&mut pipe, text.as_bytes());
        });
    }

    let status = loop {
        match tree.child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                drop(tree);
                return Err(if deadline >= own_deadline {
                    format!("exec `{program}` timed out after {:?}", grant.timeout)
                } else {
                    format!("exec `{program}` stopped at the call's deadline, after {:?}", started.elapsed())
                });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(format!("exec `{program}`: {e}")),
        }
    };
    // The program is done: so is everything it started.
    drop(tree);
    let until = deadline.max(Instant::now()) + GRACE;
    let stdout = out_reader.map(|r| r.collect(until, program)).unwrap_or_default();
    let stderr = err_reader.map(|r| r.collect(until, program)).unwrap_or_default();
    let mut staged = 0;
    if let Some((out, limit)) = out {
        staged = copy_changed(scratch.path(), &copied, out, limit)
            .map_err(|e| format!("exec `{program}`: cannot stage its files: {e}"))?;
    }
    Ok(ExecOutput { status: exit_code(status), stdout, stderr, staged })
}

/// Start the program in `scratch`, isolated as `plan` says, confined by
/// Landlock where the kernel has it, capped in a `pids` cgroup where the
/// host may make one; the tree it returns kills it when dropped.
fn spawn_confined(grant: &ExecGrant, plan: &Plan, req: &ExecRequest<'_>, scratch: &Path, tmp: &Path) -> Result<Tree, String> {
    let ExecRequest { program, args, stdin, .. } = *req;
    let mut cmd = Command::new(program);
    let resolved = confine::resolve(program, SAFE_PATH).ok_or_else(|| format!("exec `{program}`: not found on {SAFE_PATH}"))?;
    let namespaces = matches!(plan, Plan::Namespaces);
    let confinement = confine::prepare(&resolved, &[scratch, tmp], !namespaces);
    // The real process cap where the host may make one (RLIMIT_NPROC does
    // not bind root); the +2 are the waiters C and G of `isolate`.
    let cgroup = PidsCgroup::create(grant.processes.saturating_add(2))
        .inspect_err(|why| tracing::debug!(target: "taylordash::audit", program, reason = %why, "exec: processes capped by RLIMIT_NPROC only"))
        .ok();
    let limits = Limits { processes: grant.processes, memory: grant.memory, cpu: grant.cpu };
    let ruleset = match &confinement {
        Confinement::Ready(fd) => Some(fd.as_raw_fd()),
        Confinement::Unavailable(_) => None,
    };
    // Registered before Landlock's `pre_exec`, which must run in P, after the mounts.
    isolate::configure(&mut cmd, plan, limits, ruleset, cgroup.as_ref()).map_err(|e| format!("exec `{program}`: {e}"))?;
    // Said every time, because it is true every time.
    match plan {
        Plan::Namespaces => tracing::info!(target: "taylordash::audit", program, "exec: isolated in its own PID, mount, network and IPC namespaces (sees only its processes, no network)"),
        Plan::ProcessGroup { why } => tracing::warn!(target: "taylordash::audit", program, reason = %why,
            "exec: namespaces unavailable; the granted program sees the host's processes and network, and only its process group is killed when the call ends"),
    }
    match confinement {
        Confinement::Ready(ruleset) => {
            tracing::info!(target: "taylordash::audit", program, "exec: confined by Landlock (reads system and its own installation, writes its scratch copy, no TCP)");
            confine::apply(&mut cmd, ruleset);
        }
        Confinement::Unavailable(why) => {
            tracing::warn!(target: "taylordash::audit", program, reason = %why, "exec: the granted program runs unconfined, as the host user");
        }
    }
    let child = cmd
        .args(args)
        .current_dir(scratch)
        .env_clear()
        .env("PATH", SAFE_PATH)
        .env("HOME", scratch)
        .env("TMPDIR", tmp)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("exec `{program}`: {e}"))?;
    Ok(Tree { child, group: !namespaces, cgroup })
}

/// The program's process tree, killed when dropped: through C (whose death
/// takes the whole PID namespace with it), through its process group where
/// there is no namespace, and through its `pids` cgroup if it has one
/// (which a `setsid` daemon does not leave).
struct Tree {
    child: Child,
    group: bool,
    cgroup: Option<PidsCgroup>,
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = self.child.kill();
        if self.group
            && let Ok(pgid) = libc::pid_t::try_from(self.child.id())
        {
            // SAFETY: killpg takes integers. The group id is C's pid, which
            // the kernel does not reuse while the group has members, even
            // once C itself is reaped.
            unsafe { libc::killpg(pgid, libc::SIGKILL) };
        }
        if let Some(cgroup) = &self.cgroup {
            cgroup.kill_all();
        }
        let _ = self.child.wait();
    }
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return 128 + sig;
        }
    }
    status.code().unwrap_or(-1)
}

/// One output pipe being drained on a thread of its own.
struct Capture {
    kept: Arc<Mutex<Vec<u8>>>,
    done: mpsc::Receiver<()>,
}

/// Drain `pipe` fully (so the child never blocks on it) but keep `cap` bytes.
fn capture(mut pipe: impl Read + Send + 'static, cap: u64) -> Capture {
    let kept = Arc::new(Mutex::new(Vec::new()));
    let (tx, done) = mpsc::channel();
    let shared = kept.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if let Ok(mut kept) = shared.lock() {
                        let room = usize::try_from(cap).unwrap_or(usize::MAX).saturating_sub(kept.len());
                        kept.extend_from_slice(&buf[..n.min(room)]);
                    }
                }
            }
        }
        let _ = tx.send(());
    });
    Capture { kept, done }
}

impl Capture {
    /// What was read by EOF, or by `until` if the pipe is still open then
    /// (the thread is abandoned: it ends when the last writer does).
    fn collect(self, until: Instant, program: &str) -> String {
        if let Err(mpsc::RecvTimeoutError::Timeout) = self.done.recv_timeout(until.saturating_duration_since(Instant::now())) {
            tracing::warn!(target: "taylordash::audit", program, "exec: a process outside the host's reach still holds the program's output; returning what was read");
        }
        let kept = self.kept.lock().map(|k| k.clone()).unwrap_or_default();
        String::from_utf8_lossy(&kept).into_owned()
    }
}

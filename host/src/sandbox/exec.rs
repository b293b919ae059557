//! The granted side of the `exec` import: run a program the policy allows.
//!
//! What this contains: the program runs in a scratch copy of the workspace
//! (never the workspace itself), with a cleared environment, its own timeout
//! and an output cap; files it creates or changes in the scratch copy come
//! back through the call's `/out` staging directory, so the usual merge rules
//! (`add_only`) apply. Where the kernel has Landlock ([`super::confine`]),
//! the program can read only the system directories and its own
//! installation, write only the scratch copy and a private `TMPDIR`, and
//! open no TCP connections. What it cannot contain: the program runs as the
//! host user, may use all the CPU and memory its timeout allows, and without
//! Landlock has that user's whole filesystem and network. Grant only
//! programs you would run yourself on the inputs the pipeline gives them.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use super::capabilities::ExecGrant;
use super::confine::{self, Confinement};
use super::staging::{copy_tree, copy_changed};

/// What a finished program left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

const SAFE_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Run `program` under `grant`. `Err` is a message for the guest.
pub fn run_granted(
    grant: &ExecGrant,
    program: &str,
    args: &[String],
    stdin: Option<&str>,
    workspace: Option<&Path>,
    out: Option<&Path>,
) -> Result<ExecOutput, String> {
    let scratch = tempfile::tempdir().map_err(|e| format!("exec: no scratch directory: {e}"))?;
    let tmp = tempfile::tempdir().map_err(|e| format!("exec: no temporary directory: {e}"))?;
    if let Some(ws) = workspace {
        copy_tree(ws, scratch.path()).map_err(|e| format!("exec: cannot copy the workspace: {e}"))?;
    }
    let mut cmd = Command::new(program);
    let resolved = confine::resolve(program, SAFE_PATH).ok_or_else(|| format!("exec `{program}`: not found on {SAFE_PATH}"))?;
    match confine::prepare(&resolved, &[scratch.path(), tmp.path()]) {
        Confinement::Ready(ruleset) => {
            tracing::info!(target: "taylordash::audit", program, "exec: confined by Landlock (reads system and its own installation, writes its scratch copy, no TCP)");
            confine::apply(&mut cmd, ruleset);
        }
        // Said every time, because it is true every time.
        Confinement::Unavailable(why) => {
            tracing::warn!(target: "taylordash::audit", program, reason = %why, "exec: the granted program runs unconfined, as the host user");
        }
    }
    let mut child = cmd
        .args(args)
        .current_dir(scratch.path())
        .env_clear()
        .env("PATH", SAFE_PATH)
        .env("HOME", scratch.path())
        .env("TMPDIR", tmp.path())
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("exec `{program}`: {e}"))?;

    let cap = grant.output;
    let out_reader = child.stdout.take().map(|s| capped_reader(s, cap));
    let err_reader = child.stderr.take().map(|s| capped_reader(s, cap));
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let text = text.to_string();
        // A program that never reads its stdin must not block us: write from a thread.
        std::thread::spawn(move || {
            let _ = std::io::Write::write_all(&mut pipe, text.as_bytes());
        });
    }

    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= grant.timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("exec `{program}` timed out after {:?}", grant.timeout));
            }
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(2)),
            Err(e) => return Err(format!("exec `{program}`: {e}")),
        }
    };
    let stdout = out_reader.map(join_reader).unwrap_or_default();
    let stderr = err_reader.map(join_reader).unwrap_or_default();
    if let Some(out) = out {
        copy_changed(scratch.path(), workspace, out)
            .map_err(|e| format!("exec `{program}`: cannot stage its files: {e}"))?;
    }
    Ok(ExecOutput { status: exit_code(status), stdout, stderr })
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

type Reader = std::thread::JoinHandle<String>;

/// Drain `pipe` fully (so the child never blocks on it) but keep `cap` bytes.
fn capped_reader(mut pipe: impl Read + Send + 'static, cap: u64) -> Reader {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = (cap as usize).saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
        String::from_utf8_lossy(&kept).into_owned()
    })
}

fn join_reader(r: Reader) -> String {
    r.join().unwrap_or_default()
}

//! Deny-by-default capabilities: what a call may touch, and the WASI context
//! that gives it exactly that.
//!
//! Every call sees the run's workspace read-only at `/workspace` and its own
//! staging directory read-write at `/out`; nothing else of the host's
//! filesystem. No environment variables, arguments or stdin; no sockets (each
//! attempt is refused and recorded); `exec` only for granted programs.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};

/// Bytes of a guest's stdout/stderr the host keeps (shown when it traps:
/// that is where a Rust guest's panic message goes).
pub const CONSOLE_BYTES: usize = 64 << 10;

/// What the operator granted a plugin beyond the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Environment variables (name, value) the guest may read.
    pub env: Vec<(String, String)>,
    /// Programs the `exec` import may run; `None` denies every call.
    pub exec: Option<ExecGrant>,
    /// `host:port` pairs wasi:http may reach; `None` denies every request.
    pub http: Option<HttpGrant>,
}

/// The `http` grant (enforced by [`super::http`]): which `host:port` pairs, with what limits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpGrant {
    pub allowed: Vec<String>,
    pub timeout: Duration,
    /// The largest request or response body, in bytes.
    pub max_body: u64,
}

/// The default `http_body` quota.
pub const MAX_BODY: u64 = 16 << 20;

/// The `exec` grant: which programs, for how long, how much output, and
/// what the program's process tree may use ([`super::isolate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecGrant {
    /// Program names (looked up on the host's PATH) or absolute paths.
    pub programs: Vec<String>,
    pub timeout: Duration,
    /// Bytes kept of stdout and of stderr each.
    pub output: u64,
    /// Processes the program's tree may have at once.
    pub processes: u64,
    /// Address space of each of its processes, in bytes.
    pub memory: u64,
    /// CPU time of each of its processes.
    pub cpu: Duration,
    /// Refuse to run it where namespaces are unavailable.
    pub require_isolation: bool,
}

impl ExecGrant {
    /// `programs` with the default limits (60 s, 1 MiB of output, 64
    /// processes, 1 GiB of memory, 60 s of CPU, isolation wanted but not required).
    pub fn new(programs: Vec<String>) -> ExecGrant {
        ExecGrant {
            programs,
            timeout: Duration::from_secs(60),
            output: 1 << 20,
            processes: 64,
            memory: 1 << 30,
            cpu: Duration::from_secs(60),
            require_isolation: false,
        }
    }
}

/// A capability the guest asked for and did not get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// `network`, `exec`, `fs`, `env`.
    pub capability: &'static str,
    /// What exactly was refused, e.g. `connect 127.0.0.1:80`.
    pub detail: String,
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.capability, self.detail)
    }
}

/// How many denials of one capability a call gets logged and audited one by
/// one; past that they are only counted, and reported as one summary.
pub const DENIALS_LISTED: u64 = 10;

/// The denials of one call: the first [`DENIALS_LISTED`] of each capability
/// kept (logged and audited), the rest counted. A guest that tries a refused
/// socket in a loop can neither grow the audit log nor flood stderr; every
/// denial also counts against the host-call quota (see `host_imports.rs`).
#[derive(Debug, Default)]
pub struct DenialLog {
    listed: Vec<Denial>,
    counts: std::collections::BTreeMap<&'static str, u64>,
    total: u64,
}

impl DenialLog {
    /// Every denial of the call, listed or not.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The listed denials, then one summary per capability that had more.
    pub fn take(&mut self) -> Vec<Denial> {
        let mut out = std::mem::take(&mut self.listed);
        for (capability, n) in std::mem::take(&mut self.counts) {
            if n > DENIALS_LISTED {
                let detail = format!("{} more `{capability}` denials in this call, not listed one by one", n - DENIALS_LISTED);
                out.push(Denial { capability, detail });
            }
        }
        self.total = 0;
        out
    }
}

/// Denials of one call, shared with callbacks WASI runs on other threads.
pub type Denials = Arc<Mutex<DenialLog>>;

/// Record a denial; its detail (which quotes guest text: program names,
/// addresses, paths) is escaped here, once, for every capability.
pub fn record(denials: &Denials, denial: Denial) {
    let Ok(mut log) = denials.lock() else { return };
    log.total += 1;
    let seen = log.counts.entry(denial.capability).or_insert(0);
    *seen += 1;
    if *seen > DENIALS_LISTED {
        return;
    }
    let denial = Denial { detail: super::escape::for_terminal(&denial.detail), ..denial };
    tracing::warn!(target: "taylordash::audit", capability = denial.capability,
        detail = %denial.detail, decision = "deny", "capability denied");
    log.listed.push(denial);
}

/// The directories a call sees.
#[derive(Debug, Clone)]
pub struct Mounts {
    /// Host directory preopened read-only as `/workspace`.
    pub workspace: Option<PathBuf>,
    /// Host directory preopened read-write as `/out`.
    pub out: Option<PathBuf>,
}

/// Build the WASI context for one call, and the pipe holding its console.
pub fn wasi_context(
    mounts: &Mounts,
    grants: &Grants,
    denials: &Denials,
) -> Result<(WasiCtx, MemoryOutputPipe), (String, wasmtime::Error)> {
    let mut b = WasiCtxBuilder::new();
    let console = MemoryOutputPipe::new(CONSOLE_BYTES);
    b.stdout(console.clone()).stderr(console.clone());
    // Filesystem calls run on the calling thread: the call is already on a
    // thread of its own, and hopping to a blocking pool costs microseconds.
    b.allow_blocking_current_thread(true);
    if let Some(dir) = &mounts.workspace {
        preopen(&mut b, dir, "/workspace", FsPerms::ReadOnly)?;
    }
    if let Some(dir) = &mounts.out {
        preopen(&mut b, dir, "/out", FsPerms::ReadWrite)?;
    }
    for (k, v) in &grants.env {
        b.env(k, v);
    }
    // Sockets may be created so that every address the guest tries reaches
    // this check, which refuses and records it: raw sockets are never granted
    // (outgoing HTTP, when granted, goes through wasi:http instead).
    b.allow_ip_name_lookup(false).allow_tcp(true).allow_udp(true);
    let sockets = denials.clone();
    b.socket_addr_check(move |addr, usage| {
        let detail = format!("no socket may be opened (attempted {usage:?} {addr})");
        record(&sockets, Denial { capability: "network", detail });
        Box::pin(async { false })
    });
    Ok((b.build(), console))
}

fn preopen(
    b: &mut WasiCtxBuilder,
    dir: &Path,
    guest: &str,
    perms: FsPerms,
) -> Result<(), (String, wasmtime::Error)> {
    b.preopened_dir(dir, guest, perms)
        .map(|_| ())
        .map_err(|e| (format!("cannot open {} for {guest}", dir.display()), e))
}

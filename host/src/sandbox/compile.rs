//! Compiling a plugin under a budget: a size limit checked before anything
//! is parsed, and Cranelift run in a child process with a memory and a time
//! limit, so a compile bomb (a small component with a huge number of
//! functions) is refused with one line instead of eating the host's memory,
//! and a compiler crash stays out of the host.
//!
//! The child is the host's own binary re-executed as `taylordash __compile
//! <engine key>` ([`SUBCOMMAND`], dispatched by `main.rs` before the CLI is
//! parsed), with a cleared environment, the component on stdin, and
//! `RLIMIT_AS` (memory), `RLIMIT_CPU` (a backstop should the parent vanish)
//! and no core dumps. The parent kills it at the wall-clock deadline. The
//! child builds its engine from [`engine::compile_config`] — the parent's
//! configuration minus the pooling allocator, whose reservations would not
//! fit the address-space limit and which does not shape compiled code — and
//! refuses to run if its compatibility key differs from the parent's. It
//! writes `len (u64 LE) ‖ Component::serialize bytes`; the parent
//! deserializes that and hands the bytes to the component cache.
//!
//! Without a compiler binary (`SandboxOptions::compiler` is `None`: library
//! users, tests that build a `Sandbox` directly) compilation runs in-process
//! with no memory or time limit; the size limit and the import check of
//! `world.rs` apply either way.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use wasmtime::Engine;
use wasmtime::component::Component;

use super::engine;

/// The hidden subcommand `main.rs` hands to [`child_main`].
pub const SUBCOMMAND: &str = "__compile";

/// Default largest plugin file.
pub const DEFAULT_MAX_SIZE: u64 = 32 << 20;
/// Default address space of the compiler process.
pub const DEFAULT_MEMORY: u64 = 2 << 30;
/// Default wall-clock time of one compilation.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Child exit codes beyond 0 (artifact on stdout).
const EXIT_INVALID: i32 = 65;
const EXIT_OUT_OF_MEMORY: i32 = 66;
const EXIT_ENGINE_MISMATCH: i32 = 67;
const EXIT_USAGE: i32 = 68;

/// How much a plugin may cost to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompileBudget {
    /// Largest plugin file, in bytes; larger ones are not even read whole.
    pub max_size: u64,
    /// Address space of the compiler process, in bytes.
    pub memory: u64,
    /// Wall-clock time of one compilation.
    pub timeout: Duration,
}

impl Default for CompileBudget {
    fn default() -> Self {
        CompileBudget { max_size: DEFAULT_MAX_SIZE, memory: DEFAULT_MEMORY, timeout: DEFAULT_TIMEOUT }
    }
}

/// Which part of the budget a plugin ran past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetBreach {
    Size(u64),
    Memory(u64),
    Time(Duration),
}

impl fmt::Display for BudgetBreach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BudgetBreach::Size(max) => write!(f, "its file is larger than {} (compile budget)", bytes_text(*max)),
            BudgetBreach::Memory(max) => {
                write!(f, "compiling it needed more than {} of memory (compile budget)", bytes_text(*max))
            }
            BudgetBreach::Time(max) => write!(f, "compiling it took more than {max:?} (compile budget)"),
        }
    }
}

/// `32 MiB`, `2 GiB`, `1000 bytes`.
fn bytes_text(n: u64) -> String {
    match n {
        n if n >= 1 << 30 && n % (1 << 30) == 0 => format!("{} GiB", n >> 30),
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

/// Why a compilation produced no component.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("{0}")]
    Budget(BudgetBreach),
    /// The compiler rejected the component (not valid WebAssembly).
    #[error("{0}")]
    Invalid(String),
    /// The compiler process died some other way.
    #[error("{0}")]
    Crashed(String),
    /// The compiler could not be run, or its artifact did not load.
    #[error("{0}")]
    Host(String),
}

/// Read `path`, but never more than `max_size + 1` bytes: `Ok(None)` when
/// the file is larger than `max_size`.
pub fn read_bounded(path: &Path, max_size: u64) -> std::io::Result<Option<Vec<u8>>> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(max_size.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok(if bytes.len() as u64 > max_size { None } else { Some(bytes) })
}

/// The key under which an engine's artifacts are compatible: the same value
/// in the parent and the child means the child's output loads in the parent.
/// `DefaultHasher::new()` has fixed keys, so it is stable across processes of
/// one build.
pub fn engine_key(engine: &Engine) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.finish()
}

/// Compile `bytes` for `engine`: in a child process running `compiler` under
/// `budget`, or in-process when there is no compiler binary. Returns the
/// component and, from the child, its serialized artifact.
pub fn compile(
    engine: &Engine,
    compiler: Option<&Path>,
    budget: &CompileBudget,
    bytes: &[u8],
) -> Result<(Component, Option<Vec<u8>>), CompileError> {
    let Some(compiler) = compiler else {
        let component = Component::new(engine, bytes).map_err(|e| CompileError::Invalid(one_line(&format!("{e:#}"))))?;
        return Ok((component, None));
    };
    let artifact = compile_in_child(compiler, engine_key(engine), budget, bytes)?;
    // SAFETY: `deserialize` trusts its input to be `Component::serialize`
    // output of a compatible engine. `artifact` is exactly what the child
    // wrote after `Engine::precompile_component` succeeded (length-framed,
    // exit status 0, checked in `compile_in_child`): the child is the host's
    // own executable (`std::env::current_exe()` from the CLI), fed through
    // private pipes no other process holds, and it checked that its engine's
    // compatibility key equals ours before compiling; wasmtime re-checks the
    // version and configuration header here. The code in it is Cranelift's
    // output for the plugin, which is what in-process compilation would have
    // trusted too: moving the compiler into a child adds no new trust.
    let component = unsafe { Component::deserialize(engine, &artifact) }
        .map_err(|e| CompileError::Host(format!("the compiler's artifact does not load: {}", one_line(&format!("{e:#}")))))?;
    Ok((component, Some(artifact)))
}

fn compile_in_child(compiler: &Path, key: u64, budget: &CompileBudget, bytes: &[u8]) -> Result<Vec<u8>, CompileError> {
    let mut cmd = Command::new(compiler);
    cmd.arg(SUBCOMMAND)
        .arg(format!("{key:016x}"))
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    limit_child(&mut cmd, budget);
    let mut child = cmd
        .spawn()
        .map_err(|e| CompileError::Host(format!("cannot start the compiler {}: {e}", compiler.display())))?;
    let (Some(mut stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(CompileError::Host("the compiler's pipes were not set up".into()));
    };
    let started = Instant::now();
    let (waited, out, err) = std::thread::scope(|s| {
        // A child that dies early makes this write fail (EPIPE); its exit
        // status says why, so the write error itself carries nothing.
        s.spawn(move || {
            let _ = stdin.write_all(bytes);
        });
        // The artifact cannot be larger than the child's address space.
        let out = s.spawn(move || {
            let mut buf = Vec::new();
            stdout.take(budget.memory.saturating_add(8)).read_to_end(&mut buf).map(|_| buf)
        });
        let err = s.spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr.take(64 << 10).read_to_end(&mut buf);
            buf
        });
        let waited = wait_until(&mut child, started + budget.timeout);
        (waited, out.join(), err.join())
    });
    let elapsed = started.elapsed();
    let stderr_text = String::from_utf8_lossy(&err.unwrap_or_default()).into_owned();
    let status = match waited {
        Ok(Some(status)) => status,
        Ok(None) => return Err(CompileError::Budget(BudgetBreach::Time(budget.timeout))),
        Err(e) => return Err(CompileError::Host(format!("waiting for the compiler: {e}"))),
    };
    tracing::debug!(?status, ?elapsed, "compiler child finished");
    if status.success() {
        let out = match out {
            Ok(Ok(out)) => out,
            Ok(Err(e)) => return Err(CompileError::Host(format!("reading the compiler's output: {e}"))),
            Err(_) => return Err(CompileError::Host("the compiler's output reader panicked".into())),
        };
        return unframe(out).ok_or_else(|| CompileError::Crashed("the compiler's output is truncated".into()));
    }
    Err(classify(status, &stderr_text, budget))
}

/// What a failed child's exit status and stderr mean.
fn classify(status: ExitStatus, stderr: &str, budget: &CompileBudget) -> CompileError {
    let said = one_line(stderr.trim());
    let memory = CompileError::Budget(BudgetBreach::Memory(budget.memory));
    match status.code() {
        Some(EXIT_INVALID) => return CompileError::Invalid(said),
        Some(EXIT_OUT_OF_MEMORY) => return memory,
        Some(EXIT_ENGINE_MISMATCH) => {
            return CompileError::Host(format!("the compiler binary was built for another engine: {said}"));
        }
        _ => {}
    }
    if looks_out_of_memory(stderr) {
        return memory;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        // SIGXCPU is RLIMIT_CPU's soft limit, SIGKILL its hard one (ours
        // came through `wait_until` and never gets here).
        if matches!(status.signal(), Some(libc::SIGXCPU) | Some(libc::SIGKILL)) {
            return CompileError::Budget(BudgetBreach::Time(budget.timeout));
        }
    }
    let said = if said.is_empty() { String::new() } else { format!(": {said}") };
    CompileError::Crashed(format!("the compiler crashed on it ({status}){said}"))
}

/// Rust's allocation-failure abort, wasmtime's and the kernel's words for ENOMEM.
fn looks_out_of_memory(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    ["memory allocation of", "out of memory", "cannot allocate memory", "os error 12"]
        .iter()
        .any(|needle| lower.contains(needle))
}

/// Wait for `child` until `deadline`; past it, kill it and return `None`.
fn wait_until(child: &mut std::process::Child, deadline: Instant) -> std::io::Result<Option<ExitStatus>> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            let _ = child.kill();
            child.wait()?;
            return Ok(None);
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(5)));
    }
}

#[cfg(unix)]
fn limit_child(cmd: &mut Command, budget: &CompileBudget) {
    use std::os::unix::process::CommandExt;
    let memory = budget.memory;
    // CPU time is summed over Cranelift's threads, so the backstop allows the
    // wall-clock budget on every core, plus a second: the parent's deadline
    // is what normally ends the child.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let cpu = budget.timeout.as_secs().saturating_add(1).saturating_mul(cores).saturating_add(1);
    // SAFETY: the closure runs in the forked child before `exec`, where only
    // async-signal-safe calls are allowed: `setrlimit` and `prctl` are system
    // calls that neither allocate nor take locks, and the closure captures
    // plain integers.
    unsafe {
        cmd.pre_exec(move || {
            set_limit(libc::RLIMIT_AS, memory, memory)?;
            set_limit(libc::RLIMIT_CPU, cpu, cpu.saturating_add(1))?;
            set_limit(libc::RLIMIT_CORE, 0, 0)?;
            // Die with the thread that waits for us, rather than compile on
            // for a parent that is gone.
            #[cfg(target_os = "linux")]
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
type Resource = libc::__rlimit_resource_t;
#[cfg(all(unix, not(all(target_os = "linux", target_env = "gnu"))))]
type Resource = libc::c_int;

#[cfg(unix)]
fn set_limit(resource: Resource, soft: u64, hard: u64) -> std::io::Result<()> {
    let limit = libc::rlimit { rlim_cur: soft as libc::rlim_t, rlim_max: hard as libc::rlim_t };
    // SAFETY: `setrlimit` reads the struct we pass and nothing else.
    if unsafe { libc::setrlimit(resource, &limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn frame(artifact: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(artifact.len() + 8);
    out.extend_from_slice(&(artifact.len() as u64).to_le_bytes());
    out.extend_from_slice(artifact);
    out
}

fn unframe(mut out: Vec<u8>) -> Option<Vec<u8>> {
    let len = u64::from_le_bytes(out.get(..8)?.try_into().ok()?);
    if out.len() as u64 != len.checked_add(8)? {
        return None;
    }
    out.drain(..8);
    Some(out)
}

/// Multi-line compiler messages as one line.
fn one_line(text: &str) -> String {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

/// The child: `taylordash __compile <engine key>`, component on stdin,
/// framed artifact on stdout, one line on stderr when it fails.
pub fn child_main(args: &[String]) -> i32 {
    let [expected] = args else {
        eprintln!("usage: taylordash {SUBCOMMAND} <engine key> < component.wasm");
        return EXIT_USAGE;
    };
    let engine = match Engine::new(&engine::compile_config()) {
        Ok(engine) => engine,
        Err(e) => return fail(&e),
    };
    let key = format!("{:016x}", engine_key(&engine));
    if key != *expected {
        eprintln!("engine key {key}, the host expects {expected}");
        return EXIT_ENGINE_MISMATCH;
    }
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut bytes) {
        eprintln!("reading the component: {e}");
        return if e.kind() == std::io::ErrorKind::OutOfMemory { EXIT_OUT_OF_MEMORY } else { EXIT_USAGE };
    }
    let artifact = match engine.precompile_component(&bytes) {
        Ok(artifact) => artifact,
        Err(e) => return fail(&e),
    };
    drop(bytes);
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(&frame(&artifact)).and_then(|()| stdout.flush()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("writing the artifact: {e}");
            EXIT_USAGE
        }
    }
}

fn fail(e: &wasmtime::Error) -> i32 {
    let message = one_line(&format!("{e:#}"));
    eprintln!("{message}");
    if e.is::<wasmtime::OutOfMemory>() || looks_out_of_memory(&message) { EXIT_OUT_OF_MEMORY } else { EXIT_INVALID }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiler_engine_makes_artifacts_the_host_engine_loads() {
        let host = engine::build_engine().unwrap();
        let compiler = Engine::new(&engine::compile_config()).unwrap();
        assert_eq!(engine_key(&host), engine_key(&compiler));
    }

    #[test]
    fn breaches_read_as_one_line() {
        assert_eq!(
            BudgetBreach::Memory(256 << 20).to_string(),
            "compiling it needed more than 256 MiB of memory (compile budget)"
        );
        assert_eq!(BudgetBreach::Time(Duration::from_secs(2)).to_string(), "compiling it took more than 2s (compile budget)");
        assert_eq!(BudgetBreach::Size(32 << 20).to_string(), "its file is larger than 32 MiB (compile budget)");
        assert_eq!(one_line("a\n\nCaused by:\n  b\n"), "a; Caused by:; b");
    }

    #[test]
    fn frames_round_trip_and_truncation_is_caught() {
        let framed = frame(b"artifact");
        assert_eq!(unframe(framed.clone()).as_deref(), Some(&b"artifact"[..]));
        assert_eq!(unframe(framed[..framed.len() - 1].to_vec()), None);
        assert_eq!(unframe(vec![1, 2]), None);
    }
}

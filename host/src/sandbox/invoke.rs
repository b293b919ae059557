//! One call: a fresh store under the call's quotas, instantiate from the
//! plugin's `InstancePre`, call `invoke`, and name exactly what went wrong.
//!
//! A failed call is classified in this order, so that the cause wins over
//! its symptom: a quota a host import or the limiter refused (even if the
//! guest then aborted), a trap that is itself a quota (timeout, fuel, stack,
//! copy limit), a capability the guest was denied, then plain traps and the
//! tool's own errors.

use std::path::Path;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{Store, Trap, UpdateDeadline};

use super::bindings::taylordash::agent::types;
use super::capabilities::{Denial, Denials, Grants, Mounts, wasi_context};
use super::error::{SandboxError, ToolFailure};
use super::escape::for_terminal;
use super::host_imports::{CallState, Event, LogLine};
use super::out_quota::{self, OutUsage};
use super::quotas::{Limiter, QuotaBreach, QuotaKind, Quotas};
use super::staging;
use super::{Plugin, Sandbox, ToolInfo};

/// Where a call sits in a run's trace; passed to the tool as its `context`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallContext {
    pub run_id: String,
    pub task_id: String,
    pub agent_id: String,
    pub trace_id: String,
    pub span_id: String,
    pub attempt: u32,
}

/// One call's input, limits, grants and directories.
#[derive(Debug, Clone, Default)]
pub struct Call<'a> {
    pub input: &'a str,
    pub context: CallContext,
    pub quotas: Quotas,
    pub grants: Grants,
    /// Preopened read-only at `/workspace`.
    pub workspace: Option<&'a Path>,
}

/// What a successful call produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOutcome {
    /// The tool's JSON output.
    pub output: String,
    pub logs: Vec<LogLine>,
    pub events: Vec<Event>,
    /// Capabilities refused during the call (the tool coped and succeeded).
    pub denials: Vec<Denial>,
    /// Powerful grants the call used: (capability, what).
    pub grants_used: Vec<(&'static str, String)>,
    pub fuel_used: u64,
    /// Peak linear memory, bytes.
    pub memory_peak: u64,
    pub duration: Duration,
}

/// A call whose `/out` was merged into its destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskOutcome {
    pub call: CallOutcome,
    /// Files published, relative to the destination.
    pub merged: Vec<String>,
}

/// Free space under which a failed call's `/out` disk counts as full: less
/// than a small report file.
const DISK_FULL_BELOW: u64 = 64 * 1024;

impl Sandbox {
    /// Ask the tool to describe itself (default quotas, no directories).
    pub fn describe(&self, plugin: &Plugin) -> Result<ToolInfo, SandboxError> {
        let mut store = self.store(plugin, &Quotas::default(), &Grants::default(), &Mounts::none())?;
        let result = plugin
            .pre
            .instantiate(&mut store)
            .and_then(|tool| tool.call_describe(&mut store));
        match result {
            Ok(info) => Ok(ToolInfo {
                name: info.name,
                version: info.version,
                description: info.description,
                input_schema: info.input_schema,
                output_schema: info.output_schema,
            }),
            Err(e) => Err(classify(plugin, &mut store, e, &Quotas::default())),
        }
    }

    /// Call `invoke` with `/out` preopened at `out` (a staging directory the
    /// caller owns). Nothing is merged anywhere.
    pub fn call(&self, plugin: &Plugin, call: &Call<'_>, out: Option<&Path>) -> Result<CallOutcome, SandboxError> {
        let mounts = Mounts { workspace: call.workspace.map(Path::to_path_buf), out: out.map(Path::to_path_buf) };
        let mut store = self.store(plugin, &call.quotas, &call.grants, &mounts)?;
        let started = Instant::now();
        let cx = types::Context::from(&call.context);
        let result = plugin
            .pre
            .instantiate(&mut store)
            .and_then(|tool| tool.call_invoke(&mut store, call.input, &cx));
        let duration = started.elapsed();
        let returned = match result {
            Ok(r) => r,
            Err(e) => return Err(classify(plugin, &mut store, e, &call.quotas)),
        };
        let denials = take_denials(&store.data().denials);
        let output = match returned {
            Ok(output) => output,
            Err(err) => {
                let failure = match err {
                    types::ToolError::InvalidInput(m) => ToolFailure::InvalidInput(for_terminal(&m)),
                    types::ToolError::Failed(m) => ToolFailure::Failed(for_terminal(&m)),
                    types::ToolError::Retryable(m) => ToolFailure::Retryable(for_terminal(&m)),
                };
                // A runtime that catches a refused growth (CPython's
                // MemoryError, a JS engine's out-of-memory) fails as a tool
                // error, where Rust aborts: both ran into the quota, so both
                // report it, and every language exits alike.
                let state = store.data();
                if let Some(b) = state.breach.or(state.limiter.refused).or(state.out_usage.breach()) {
                    tracing::debug!(plugin = %plugin.name, tool_error = %failure, "tool error after a quota refusal");
                    return Err(quota(plugin, b.kind, b.limit));
                }
                // A tool that fails after being refused a capability failed
                // because of the refusal: report the denial.
                if let Some(denial) = denials.into_iter().next() {
                    return Err(SandboxError::Denied { plugin: plugin.name.clone(), denial, tool: Some(failure.to_string()) });
                }
                // Whatever a tool concludes from a failed write (most report
                // it as final), a full disk is the host's to fix: the call
                // may run again once there is space.
                if let Some(out) = out
                    && let Some(free) = staging::free_bytes(out).filter(|free| *free < DISK_FULL_BELOW)
                {
                    tracing::warn!(plugin = %plugin.name, out = %out.display(), free, "a call failed on a full disk");
                    return Err(SandboxError::OutDiskFull { plugin: plugin.name.clone(), out: out.to_path_buf(), free, said: failure.to_string() });
                }
                return Err(SandboxError::Tool { plugin: plugin.name.clone(), failure });
            }
        };
        if output.len() as u64 > call.quotas.output {
            return Err(quota(plugin, QuotaKind::Output, call.quotas.output));
        }
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&output) {
            return Err(SandboxError::BadOutput { plugin: plugin.name.clone(), message: e.to_string() });
        }
        // What `/out` really holds, whoever put it there (the guest, or a
        // granted program through `exec`), against the same quotas.
        if let Some(out) = out {
            let measured = out_quota::measure(out, &call.quotas)
                .map_err(|e| SandboxError::Host(format!("cannot measure /out: {e}")))?;
            if let Err(b) = measured {
                return Err(quota(plugin, b.kind, b.limit));
            }
        }
        let fuel_used = call.quotas.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        let state = store.into_data();
        Ok(CallOutcome {
            output,
            logs: state.logs,
            events: state.events,
            denials,
            grants_used: state.grants_used,
            fuel_used,
            memory_peak: state.limiter.memory_peak(),
            duration,
        })
    }

    /// Instantiate once and return a handle that calls `invoke` again and
    /// again on that one instance. This is the floor a per-call store is
    /// measured against in the benchmarks; serving real calls this way would
    /// let one call see another's state, so the host never does.
    pub fn warm_instance(&self, plugin: &Plugin, call: &Call<'_>, out: Option<&Path>) -> Result<WarmInstance, SandboxError> {
        let mounts = Mounts { workspace: call.workspace.map(Path::to_path_buf), out: out.map(Path::to_path_buf) };
        let mut store = self.store(plugin, &call.quotas, &call.grants, &mounts)?;
        store.set_fuel(u64::MAX).map_err(|e| SandboxError::Host(format!("fuel: {e}")))?;
        store.set_epoch_deadline(u64::MAX / 2);
        match plugin.pre.instantiate(&mut store) {
            Ok(tool) => Ok(WarmInstance { store, tool }),
            Err(e) => Err(classify(plugin, &mut store, e, &call.quotas)),
        }
    }

    /// Call with a fresh staging `/out`, then merge it into `dest` (refusing
    /// to overwrite with `add_only`). A failed call merges nothing.
    pub fn run_task(
        &self,
        plugin: &Plugin,
        call: &Call<'_>,
        dest: &Path,
        add_only: bool,
    ) -> Result<TaskOutcome, SandboxError> {
        let staging = tempfile::Builder::new()
            .prefix("taylordash-out-")
            .tempdir()
            .map_err(|e| SandboxError::Host(format!("cannot create a staging directory: {e}")))?;
        let outcome = self.call(plugin, call, Some(staging.path()))?;
        // The merge is bounded like the call: it gets the call's own time again.
        let merged = staging::merge(staging.path(), dest, add_only, call.quotas.timeout)
            .map_err(|merge| SandboxError::Merge { plugin: plugin.name.clone(), merge })?;
        Ok(TaskOutcome { call: outcome, merged })
    }

    fn store(
        &self,
        plugin: &Plugin,
        quotas: &Quotas,
        grants: &Grants,
        mounts: &Mounts,
    ) -> Result<Store<CallState>, SandboxError> {
        let denials = Denials::default();
        let (wasi, console) = wasi_context(mounts, grants, &denials)
            .map_err(|(what, e)| SandboxError::Host(format!("{what}: {e}")))?;
        let state = CallState {
            plugin: plugin.name.clone(),
            wasi,
            console,
            table: ResourceTable::new(),
            http_ctx: wasmtime_wasi_http::WasiHttpCtx::new(),
            http_hooks: super::http::HttpHooks {
                grant: grants.http.clone(),
                denials: denials.clone(),
                plugin: plugin.name.clone(),
            },
            limiter: Limiter::new(*quotas),
            quotas: *quotas,
            grants: grants.clone(),
            out_dir: mounts.out.clone(),
            workspace: mounts.workspace.clone(),
            denials,
            grants_used: Vec::new(),
            host_calls: 0,
            log_bytes: 0,
            logs: Vec::new(),
            events: Vec::new(),
            breach: None,
            out_usage: OutUsage::new(quotas),
            deadline: std::time::Instant::now() + quotas.timeout,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_fuel(quotas.fuel).map_err(|e| SandboxError::Host(format!("fuel: {e}")))?;
        // The watchdog: every epoch tick, end the call once its wall-clock
        // deadline has passed, or once refused capabilities (recorded inside
        // WASI callbacks, which cannot trap) have spent its host-call quota.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut cx| {
            if let Some(breach) = cx.data_mut().spent_by_denials() {
                return Err(breach.into());
            }
            if Instant::now() >= cx.data().deadline {
                return Err(Trap::Interrupt.into());
            }
            Ok(UpdateDeadline::Continue(1))
        });
        // Bytes a guest may hand the host in one transfer, the tool's return
        // value included: a huge return fails as it is copied, not after.
        store.set_hostcall_fuel(usize::try_from(quotas.output.max(quotas.log)).unwrap_or(usize::MAX));
        Ok(store)
    }
}

/// One instance kept alive across calls; see [`Sandbox::warm_instance`].
pub struct WarmInstance {
    store: Store<CallState>,
    tool: super::bindings::Tool,
}

impl WarmInstance {
    /// Call `invoke` on the live instance; `None` when the call failed.
    pub fn invoke(&mut self, input: &str) -> Option<String> {
        let cx = types::Context::from(&CallContext::default());
        self.tool.call_invoke(&mut self.store, input, &cx).ok()?.ok()
    }
}

impl From<&CallContext> for types::Context {
    fn from(c: &CallContext) -> Self {
        types::Context {
            run_id: c.run_id.clone(),
            task_id: c.task_id.clone(),
            agent_id: c.agent_id.clone(),
            trace_id: c.trace_id.clone(),
            span_id: c.span_id.clone(),
            attempt: c.attempt,
        }
    }
}

impl Mounts {
    fn none() -> Self {
        Mounts { workspace: None, out: None }
    }
}

fn quota(plugin: &Plugin, kind: QuotaKind, limit: u64) -> SandboxError {
    tracing::warn!(target: "taylordash::audit", plugin = %plugin.name, quota = %kind, limit,
        decision = "deny", "quota exceeded");
    SandboxError::Quota { plugin: plugin.name.clone(), breach: QuotaBreach { kind, limit } }
}

fn take_denials(denials: &Denials) -> Vec<Denial> {
    denials.lock().map(|mut d| d.take()).unwrap_or_default()
}

/// Name what ended a call that returned an error instead of a value.
fn classify(plugin: &Plugin, store: &mut Store<CallState>, err: wasmtime::Error, quotas: &Quotas) -> SandboxError {
    let state = store.data();
    if let Some(b) = state.breach.or(state.limiter.refused).or(state.out_usage.breach()) {
        return quota(plugin, b.kind, b.limit);
    }
    if let Some(b) = err.downcast_ref::<QuotaBreach>() {
        return quota(plugin, b.kind, b.limit);
    }
    let trap = err.chain().find_map(|c| c.downcast_ref::<Trap>()).copied();
    match trap {
        Some(Trap::Interrupt) => {
            return quota(plugin, QuotaKind::Timeout, quotas.timeout.as_millis() as u64);
        }
        Some(Trap::OutOfFuel) => return quota(plugin, QuotaKind::Fuel, quotas.fuel),
        Some(Trap::StackOverflow) => {
            return quota(plugin, QuotaKind::Stack, super::quotas::WASM_STACK as u64);
        }
        _ => {}
    }
    let message = format!("{err:#}");
    tracing::debug!(plugin = %plugin.name, error = %message, "call failed");
    if message.contains("fuel allocated for hostcalls has been exhausted") {
        return quota(plugin, QuotaKind::Output, quotas.output);
    }
    if message.contains("instance count too high") || message.contains("count of memories")
        || message.contains("count of tables")
    {
        return quota(plugin, QuotaKind::Instances, quotas.instances);
    }
    if let Some(denial) = take_denials(&store.data().denials).into_iter().next() {
        return SandboxError::Denied { plugin: plugin.name.clone(), denial, tool: Some(for_terminal(&message)) };
    }
    SandboxError::Trap { plugin: plugin.name.clone(), message: trap_message(&err, trap, store.data()) }
}

/// The trap's cause, then the end of what the guest printed (a Rust guest's
/// panic message goes to stderr), escaped for terminals.
fn trap_message(err: &wasmtime::Error, trap: Option<Trap>, state: &CallState) -> String {
    let cause = match trap {
        Some(Trap::UnreachableCodeReached) => {
            "wasm `unreachable` instruction executed (the plugin panicked or aborted)".to_string()
        }
        Some(t) => t.to_string(),
        None => err.root_cause().to_string(),
    };
    let console = state.console.contents();
    let text = String::from_utf8_lossy(&console);
    let tail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = tail[tail.len().saturating_sub(3)..].join(" | ");
    if tail.is_empty() {
        for_terminal(&cause)
    } else {
        for_terminal(&format!("{cause}; plugin output: {tail}"))
    }
}

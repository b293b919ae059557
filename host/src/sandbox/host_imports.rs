//! The per-call store state and the host side of the `host` and `exec`
//! imports. Every import call is counted against the host-call quota; log
//! bytes against the log quota. A breach traps at once with a
//! [`QuotaBreach`], which `invoke` reports as the quota it is.

use std::path::PathBuf;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::taylordash::agent::{exec, host, types};
use super::capabilities::{Denial, Denials, Grants, record};
use super::escape::for_terminal;
use super::exec::{ExecRequest, plan as exec_plan, run_granted};
use super::out_quota::{ChargesOut, OutUsage};
use super::quotas::{Limiter, QuotaBreach, QuotaKind, Quotas};

/// A log line a plugin wrote, already escaped for terminals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: &'static str,
    pub message: String,
}

/// An event a plugin emitted for the run's bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub topic: String,
    pub payload: String,
}

/// Everything one call's `Store` owns.
pub struct CallState {
    pub(crate) plugin: String,
    pub(crate) wasi: WasiCtx,
    /// The guest's stdout and stderr, bounded.
    pub(crate) console: wasmtime_wasi::p2::pipe::MemoryOutputPipe,
    pub(crate) table: ResourceTable,
    pub(crate) http_ctx: wasmtime_wasi_http::WasiHttpCtx,
    pub(crate) http_hooks: super::http::HttpHooks,
    pub(crate) limiter: Limiter,
    pub(crate) quotas: Quotas,
    pub(crate) grants: Grants,
    /// The call's staging directory: where `exec` returns new files.
    pub(crate) out_dir: Option<PathBuf>,
    pub(crate) workspace: Option<PathBuf>,
    pub(crate) denials: Denials,
    pub(crate) grants_used: Vec<(&'static str, String)>,
    pub(crate) host_calls: u64,
    pub(crate) log_bytes: u64,
    pub(crate) logs: Vec<LogLine>,
    pub(crate) events: Vec<Event>,
    /// The first quota a host import refused.
    pub(crate) breach: Option<QuotaBreach>,
    /// Bytes and entries written to `/out` so far.
    pub(crate) out_usage: std::sync::Arc<OutUsage>,
    /// When the call's wall-clock quota runs out: a granted program ends by then.
    pub(crate) deadline: std::time::Instant,
}

impl ChargesOut for CallState {
    fn out_usage(&self) -> std::sync::Arc<OutUsage> {
        self.out_usage.clone()
    }
}

impl wasmtime_wasi_http::WasiHttpView for CallState {
    fn http(&mut self) -> wasmtime_wasi_http::WasiHttpCtxView<'_> {
        wasmtime_wasi_http::WasiHttpCtxView {
            hooks: &mut self.http_hooks,
            table: &mut self.table,
            ctx: &mut self.http_ctx,
        }
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl CallState {
    /// Count one import call; trap once the quota is spent.
    fn count_call(&mut self) -> wasmtime::Result<()> {
        self.host_calls += 1;
        if self.calls_and_denials() > self.quotas.host_calls {
            return Err(self.breach(QuotaKind::HostCalls, self.quotas.host_calls).into());
        }
        Ok(())
    }

    /// Import calls plus refused capabilities: both are work the guest makes
    /// the host do, and both count against the host-call quota.
    pub(crate) fn calls_and_denials(&self) -> u64 {
        let denied = self.denials.lock().map(|d| d.total()).unwrap_or(0);
        self.host_calls.saturating_add(denied)
    }

    /// The quota a denial flood has spent, checked by the call's watchdog
    /// (denials made inside WASI callbacks cannot trap by themselves).
    pub(crate) fn spent_by_denials(&mut self) -> Option<QuotaBreach> {
        (self.calls_and_denials() > self.quotas.host_calls).then(|| self.breach(QuotaKind::HostCalls, self.quotas.host_calls))
    }

    pub(crate) fn breach(&mut self, kind: QuotaKind, limit: u64) -> QuotaBreach {
        *self.breach.get_or_insert(QuotaBreach { kind, limit })
    }
}

impl types::Host for CallState {}

impl host::Host for CallState {
    fn log(&mut self, level: host::Level, message: String) -> wasmtime::Result<()> {
        self.count_call()?;
        self.log_bytes = self.log_bytes.saturating_add(message.len() as u64);
        if self.log_bytes > self.quotas.log {
            return Err(self.breach(QuotaKind::Log, self.quotas.log).into());
        }
        let message = for_terminal(&message);
        let plugin = self.plugin.as_str();
        let level = match level {
            host::Level::Trace => {
                tracing::trace!(target: "taylordash::plugin", plugin, "{message}");
                "trace"
            }
            host::Level::Debug => {
                tracing::debug!(target: "taylordash::plugin", plugin, "{message}");
                "debug"
            }
            host::Level::Info => {
                tracing::info!(target: "taylordash::plugin", plugin, "{message}");
                "info"
            }
            host::Level::Warn => {
                tracing::warn!(target: "taylordash::plugin", plugin, "{message}");
                "warn"
            }
            host::Level::Error => {
                tracing::error!(target: "taylordash::plugin", plugin, "{message}");
                "error"
            }
        };
        self.logs.push(LogLine { level, message });
        Ok(())
    }

    fn emit(&mut self, topic: String, payload: String) -> wasmtime::Result<()> {
        self.count_call()?;
        // Events share the log budget: both are bytes the host keeps for the guest.
        self.log_bytes = self.log_bytes.saturating_add((topic.len() + payload.len()) as u64);
        if self.log_bytes > self.quotas.log {
            return Err(self.breach(QuotaKind::Log, self.quotas.log).into());
        }
        // The topic is printed and becomes part of a bus topic: never raw guest text.
        self.events.push(Event { topic: for_terminal(&topic), payload });
        Ok(())
    }
}

impl exec::Host for CallState {
    fn run(&mut self, cmd: exec::Command) -> wasmtime::Result<Result<exec::Output, String>> {
        self.count_call()?;
        let Some(grant) = self.grants.exec.as_ref() else {
            let detail = format!("run `{}`: plugin `{}` has no exec grant", cmd.program, self.plugin);
            record(&self.denials, Denial { capability: "exec", detail: detail.clone() });
            return Ok(Err(format!("exec denied: {detail}")));
        };
        if !grant.programs.iter().any(|p| p == &cmd.program) {
            let detail = format!(
                "run `{}`: not among the programs granted to plugin `{}` ({})",
                cmd.program,
                self.plugin,
                grant.programs.join(", ")
            );
            record(&self.denials, Denial { capability: "exec", detail: detail.clone() });
            return Ok(Err(format!("exec denied: {detail}")));
        }
        let plan = match exec_plan(grant) {
            Ok(plan) => plan,
            Err(e) => {
                let detail = format!("run `{}`: {e}", cmd.program);
                record(&self.denials, Denial { capability: "exec", detail: detail.clone() });
                return Ok(Err(format!("exec denied: {detail}")));
            }
        };
        tracing::info!(target: "taylordash::audit", plugin = %self.plugin, capability = "exec",
            program = %for_terminal(&cmd.program), decision = "allow", "capability granted");
        self.grants_used.push(("exec", for_terminal(&format!("run `{}` {}", cmd.program, cmd.args.join(" ")))));
        let request = ExecRequest {
            program: &cmd.program,
            args: &cmd.args,
            stdin: cmd.stdin.as_deref(),
            workspace: self.workspace.as_deref(),
            out: self.out_dir.as_deref().map(|o| (o, self.quotas.out_bytes.saturating_sub(self.out_usage.used().0))),
            deadline: self.deadline,
        };
        let result = run_granted(grant, &plan, &request);
        if let Ok(o) = &result {
            // What the program staged is written to `/out` like the guest's own writes.
            self.out_usage.charge_bytes(o.staged).map_err(|b| self.breach(b.kind, b.limit))?;
        }
        // Stopped by the call's own deadline: that is the call's timeout,
        // which epochs would report only once the guest runs again.
        if std::time::Instant::now() >= self.deadline {
            let ms = u64::try_from(self.quotas.timeout.as_millis()).unwrap_or(u64::MAX);
            return Err(self.breach(QuotaKind::Timeout, ms).into());
        }
        Ok(result.map(|o| exec::Output { status: o.status, stdout: o.stdout, stderr: o.stderr }))
    }
}

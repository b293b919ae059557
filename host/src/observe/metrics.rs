//! Prometheus metrics, in the classic text format (0.0.4) every scraper and
//! `promtool` reads: [`Families`] names the series once; `taylordash serve`
//! fills them from the journals and the audit log at each scrape
//! ([`from_look`]), a worker (`--metrics ADDR`) from the calls it runs
//! ([`Live`]). Names follow Prometheus conventions: `taylordash_` prefix,
//! base units (`_seconds`, `_bytes`), `_total` on counters.

use std::collections::BTreeMap;

use prometheus::{CounterVec, Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, Opts, Registry, TextEncoder};

use super::Look;
use super::kpi::{LATENCY_BUCKETS, Stats};
use super::CallFacts;
use crate::audit::AuditEvent;
use taylordash_protocol::bus::Usage;

/// The series both a server and a worker expose.
pub struct Families {
    pub tasks: CounterVec,
    pub task_duration: HistogramVec,
    pub call_duration: HistogramVec,
    pub quota_breaches: CounterVec,
    pub denials: CounterVec,
    pub fuel: CounterVec,
    pub memory_peak: GaugeVec,
}

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> CounterVec {
    let c = CounterVec::new(Opts::new(name, help), labels).expect("static metric options are valid");
    r.register(Box::new(c.clone())).expect("each metric is registered once");
    c
}

fn gauge(r: &Registry, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    let g = GaugeVec::new(Opts::new(name, help), labels).expect("static metric options are valid");
    r.register(Box::new(g.clone())).expect("each metric is registered once");
    g
}

fn gauge1(r: &Registry, name: &str, help: &str) -> Gauge {
    let g = Gauge::with_opts(Opts::new(name, help)).expect("static metric options are valid");
    r.register(Box::new(g.clone())).expect("each metric is registered once");
    g
}

fn histogram(r: &Registry, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()), labels)
        .expect("static metric options are valid");
    r.register(Box::new(h.clone())).expect("each metric is registered once");
    h
}

impl Families {
    pub fn register(r: &Registry) -> Self {
        Families {
            tasks: counter(r, "taylordash_tasks_total", "Finished task attempts, by tool, agent and outcome (succeeded, failed).", &[
                "tool", "agent", "outcome",
            ]),
            task_duration: histogram(
                r,
                "taylordash_task_duration_seconds",
                "Time of a task attempt from dispatch to result, seconds.",
                &["tool"],
            ),
            call_duration: histogram(r, "taylordash_call_duration_seconds", "Time inside the sandbox call of a task, seconds.", &[
                "tool",
            ]),
            quota_breaches: counter(r, "taylordash_quota_breaches_total", "Calls stopped by a quota, by quota kind.", &["kind"]),
            denials: counter(r, "taylordash_denials_total", "Capabilities refused to a plugin or caller, by capability.", &[
                "capability",
            ]),
            fuel: counter(r, "taylordash_tool_fuel_total", "Fuel (wasm instructions, roughly) consumed by successful calls, by tool.", &[
                "tool",
            ]),
            memory_peak: gauge(r, "taylordash_tool_memory_peak_bytes", "Largest linear memory a call of the tool reached, bytes.", &[
                "tool",
            ]),
        }
    }

    /// Count the denials and quota breaches among audit events.
    fn refusals(&self, events: &[AuditEvent]) {
        for e in events.iter().filter(|e| e.decision == "deny") {
            match e.capability.strip_prefix("quota:") {
                Some(kind) => self.quota_breaches.with_label_values(&[kind]).inc(),
                None => self.denials.with_label_values(&[e.capability.as_str()]).inc(),
            }
        }
    }

    fn usage(&self, tool: &str, usage: &Usage) {
        self.fuel.with_label_values(&[tool]).inc_by(usage.fuel as f64);
        self.call_duration.with_label_values(&[tool]).observe(usage.call_ms as f64 / 1000.0);
        let peak = self.memory_peak.with_label_values(&[tool]);
        peak.set(peak.get().max(usage.memory_peak as f64));
    }
}

/// The registry's text, in the classic Prometheus format.
pub fn encode(registry: &Registry) -> String {
    let mut buf = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&registry.gather(), &mut buf) {
        tracing::warn!("cannot encode metrics: {e}");
    }
    String::from_utf8(buf).unwrap_or_default()
}

/// The `Content-Type` of [`encode`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The metrics of what the journals and the audit log hold now, and the
/// seed's KPIs (the same numbers as `taylordash stats` and the page).
pub fn from_look(look: &Look, dlq_depth: u64) -> Registry {
    let r = Registry::new();
    let f = Families::register(&r);
    let round_trip = histogram(
        &r,
        "taylordash_bus_round_trip_seconds",
        "Time of a task attempt outside its sandbox call (dispatch, bus, result), seconds.",
        &[],
    );
    let pending = gauge(&r, "taylordash_tasks_pending", "Tasks of running runs waiting for their first attempt, by priority.", &[
        "priority",
    ]);
    let active = gauge(&r, "taylordash_agents_active", "Agents running a task now, by agent.", &["agent"]);
    let runs = gauge(&r, "taylordash_runs", "Runs in the runs directory, by status.", &["status"]);
    gauge1(&r, "taylordash_dlq_depth", "Tasks in the dead-letter queue not yet replayed.").set(dlq_depth as f64);
    let sla = counter(&r, "taylordash_sla_breaches_total", "Tasks slower than their agent contract's sla.response_time, by agent and tool.", &[
        "agent", "tool",
    ]);
    let mcp_seconds = histogram(
        &r,
        "taylordash_mcp_call_seconds",
        "Time of an mcp_orchestration server's answer at an integration point, seconds.",
        &["server", "point"],
    );
    let mcp_breaches = counter(
        &r,
        "taylordash_mcp_target_breaches_total",
        "Answers of an mcp_orchestration server slower than its performance_target, by server and point.",
        &["server", "point"],
    );
    for run in &look.runs {
        for e in &run.events {
            let counted: &[&str] = match e.kind.as_str() {
                "sla_breach" => &["agent", "tool"],
                "mcp_call" | "mcp_target_breach" => &["server", "point"],
                _ => continue,
            };
            let data: serde_json::Value = serde_json::from_str(&e.data).unwrap_or_default();
            let labels: Vec<&str> = counted.iter().map(|k| data[*k].as_str().unwrap_or("")).collect();
            match e.kind.as_str() {
                "sla_breach" => sla.with_label_values(&labels).inc(),
                "mcp_target_breach" => mcp_breaches.with_label_values(&labels).inc(),
                _ => mcp_seconds.with_label_values(&labels).observe(data["ms"].as_f64().unwrap_or(0.0) / 1000.0),
            }
        }
        runs.with_label_values(&[run.run.status.as_str()]).inc();
        let running = run.run.status == "running";
        if running {
            // The journal keeps no per-task priority: one queue.
            pending.with_label_values(&["default"]).add(run.pending.len() as f64);
        }
        for a in &run.attempts {
            if a.status == "running" {
                if running {
                    active.with_label_values(&[a.agent.as_str()]).inc();
                }
                continue;
            }
            f.tasks.with_label_values(&[a.tool.as_str(), a.agent.as_str(), a.status.as_str()]).inc();
            if let Some(ms) = a.duration_ms {
                f.task_duration.with_label_values(&[a.tool.as_str()]).observe(ms as f64 / 1000.0);
                if let Some(u) = &a.usage {
                    f.usage(&a.tool, u);
                    round_trip.with_label_values(&[] as &[&str]).observe((ms - u.call_ms as i64).max(0) as f64 / 1000.0);
                }
            }
        }
    }
    f.refusals(&look.audit);
    kpi_gauges(&r, &look.stats);
    r
}

/// The seed's KPIs as gauges: `taylordash_kpi_<name>_<unit>`, and whether
/// each meets its target.
fn kpi_gauges(r: &Registry, stats: &Stats) {
    let names: BTreeMap<&str, (&str, &str)> = [
        ("completion_rate", ("taylordash_kpi_completion_ratio", "Tasks completed / tasks assigned (seed target > 0.95).")),
        ("quality_score", ("taylordash_kpi_quality_ratio", "Gate verdicts passed / gate verdicts (seed target > 0.90).")),
        ("response_time_p90", ("taylordash_kpi_response_time_p90_seconds", "P90 of task completion time, seconds (seed target < 30).")),
        ("throughput", ("taylordash_kpi_throughput_tasks_per_hour", "Tasks completed per hour of run time.")),
        ("coordination_overhead", ("taylordash_kpi_coordination_overhead_ratio", "Run time in which no tool executed / run time.")),
        ("parallel_efficiency", ("taylordash_kpi_parallel_efficiency_ratio", "Critical path time / run time (speed-up over its maximum).")),
        ("error_recovery_time", ("taylordash_kpi_error_recovery_seconds", "Mean time from a task's first failure to its success, seconds.")),
        ("agent_idle_time", ("taylordash_kpi_agent_idle_ratio", "Stage time in which an agent of the stage ran nothing (seed target < 0.05).")),
        (
            "context_switching_overhead",
            ("taylordash_kpi_context_switching_ratio", "Run time between stages / run time (seed target < 0.10)."),
        ),
        ("message_delivery_rate", ("taylordash_kpi_message_delivery_ratio", "Attempts whose result came back / attempts (seed target 0.999).")),
        ("trace_correlation", ("taylordash_kpi_trace_correlation_ratio", "Attempts in their run's trace / attempts (seed target 1).")),
        ("event_latency_p95", ("taylordash_kpi_event_latency_p95_seconds", "P95 of attempt time outside the sandbox call, seconds (seed target < 0.1).")),
        ("context7_query_time_p90", ("taylordash_kpi_context7_query_p90_seconds", "P90 of context7 tool calls, seconds (seed target < 5).")),
    ]
    .into_iter()
    .collect();
    let met = gauge(r, "taylordash_kpi_target_met", "1 when the KPI meets the seed's target, 0 when not (absent: no data or no target).", &[
        "kpi",
    ]);
    let success = gauge(r, "taylordash_kpi_success_ratio", "Succeeded / finished attempts over a rolling window.", &["window"]);
    for k in &stats.kpis {
        if let Some(m) = k.meets {
            met.with_label_values(&[k.key]).set(f64::from(u8::from(m)));
        }
        let Some(v) = k.value else { continue };
        match k.key {
            "success_rate_1h" => success.with_label_values(&["1h"]).set(v),
            "success_rate_24h" => success.with_label_values(&["24h"]).set(v),
            key => {
                if let Some((name, help)) = names.get(key) {
                    gauge1(r, name, help).set(v);
                }
            }
        }
    }
    let slowdown = gauge(r, "taylordash_stage_slowdown_ratio", "A stage's time in its latest run / the median of earlier runs.", &[
        "pipeline", "stage",
    ]);
    let duration = gauge(r, "taylordash_stage_duration_seconds", "Mean time of a stage over the window, seconds.", &["pipeline", "stage"]);
    for s in &stats.stages {
        duration.with_label_values(&[s.pipeline.as_str(), s.stage.as_str()]).set(s.mean_seconds);
        if let Some(x) = s.slowdown {
            slowdown.with_label_values(&[s.pipeline.as_str(), s.stage.as_str()]).set(x);
        }
    }
}

/// A worker's own metrics, counted as it runs calls.
pub struct Live {
    registry: Registry,
    families: Families,
}

impl Default for Live {
    fn default() -> Self {
        let registry = Registry::new();
        let families = Families::register(&registry);
        Live { registry, families }
    }
}

impl Live {
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Count one finished call of `task`: its cost when it succeeded, and
    /// the denials and breaches its audit events record.
    pub fn record(&self, task: &CallFacts<'_>, seconds: f64, usage: Option<&Usage>, audit: &[AuditEvent]) {
        let f = &self.families;
        let status = if usage.is_some() { "succeeded" } else { "failed" };
        f.tasks.with_label_values(&[task.tool, task.agent, status]).inc();
        f.task_duration.with_label_values(&[task.tool]).observe(seconds);
        if let Some(usage) = usage {
            f.usage(task.tool, usage);
        }
        f.refusals(audit);
    }
}

//! The seed's measures of agents, computed from run journals and the audit
//! log: the one function ([`compute`]) behind `taylordash stats`, `/metrics`
//! and the KPI page, so the three never disagree.
//!
//! Every figure is defined from what the journal records (docs/observability.md
//! says how); a figure with no data is `None`, and the seed's measures that no
//! journal can honestly support (context retention, knowledge application,
//! failure-probability modelling) are reported as such, never invented.

use std::collections::BTreeMap;

use serde::Serialize;

use super::detect::{Detector, detectors};
use super::facts::{end_ms, ended, group_tasks, mean, quantile, ratio, run_span, stage_span, union_ms};
use super::stages::{Alert, Bottleneck, StageStat, slowdown_alerts, stage_stats};
use crate::audit::AuditEvent;
use crate::store::{AttemptFact, RunSnapshot};

const HOUR_MS: i64 = 3_600_000;
/// Upper bounds (seconds) of the task latency histogram.
pub const LATENCY_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// One figure with the seed's target for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Kpi {
    pub key: &'static str,
    pub label: &'static str,
    /// `None`: no data in the window, or no honest measure (see `note`).
    pub value: Option<f64>,
    pub display: String,
    pub target: &'static str,
    /// Whether `value` meets `target`; `None` without a value or a target.
    pub meets: Option<bool>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendBucket {
    pub start_ms: i64,
    pub end_ms: i64,
    pub attempts: u64,
    pub succeeded: u64,
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trend {
    pub rate_1h: Option<f64>,
    pub rate_24h: Option<f64>,
    /// The last 24 hours, an hour a bucket, oldest first.
    pub buckets: Vec<TrendBucket>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencyBucket {
    /// Upper bound in seconds; `None` is +Inf.
    #[serde(serialize_with = "le_text")]
    pub le: Option<f64>,
    /// Tasks in this bucket alone (not cumulative).
    pub count: u64,
}

fn le_text<S: serde::Serializer>(le: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match le {
        Some(v) => s.serialize_f64(*v),
        None => s.serialize_str("+Inf"),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub buckets: Vec<LatencyBucket>,
}

/// What an agent (or a tool) cost over the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Usage {
    pub tasks: u64,
    pub fuel: u64,
    pub memory_peak_bytes: u64,
    /// Seconds inside the sandbox.
    pub call_seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub generated_at: i64,
    pub since_ms: i64,
    pub runs: usize,
    pub kpis: Vec<Kpi>,
    pub trend: Trend,
    pub latency: Latency,
    pub bottleneck: Option<Bottleneck>,
    pub stages: Vec<StageStat>,
    pub agents: BTreeMap<String, Usage>,
    pub tools: BTreeMap<String, Usage>,
    pub detectors: Vec<Detector>,
    pub alerts: Vec<Alert>,
}

/// What to measure: the runs in the window, the runs before it (for the
/// baselines), the audit log, and now.
pub struct Window<'a> {
    /// Every run known, oldest first; those updated at or after `since_ms` are measured.
    pub runs: &'a [RunSnapshot],
    pub audit: &'a [AuditEvent],
    pub now_ms: i64,
    pub since_ms: i64,
    /// Queue depth samples, oldest first (the server keeps them; empty for one look).
    pub queue_samples: &'a [u64],
    /// Measure only this run (the others still give baselines).
    pub only_run: Option<&'a str>,
}

pub fn compute(w: &Window<'_>) -> Stats {
    let measured: Vec<&RunSnapshot> = w
        .runs
        .iter()
        .filter(|r| r.run.updated_at >= w.since_ms && w.only_run.is_none_or(|id| r.run.id == id))
        .collect();
    let attempts: Vec<(&RunSnapshot, &AttemptFact)> =
        measured.iter().flat_map(|r| r.attempts.iter().map(move |a| (*r, a))).collect();
    let stages = stage_stats(w.runs, &measured);
    let bottleneck = stages
        .iter()
        .max_by(|a, b| a.mean_seconds.total_cmp(&b.mean_seconds))
        .map(|s| Bottleneck { pipeline: s.pipeline.clone(), stage: s.stage.clone(), seconds: s.mean_seconds });
    let latencies = task_latencies(&attempts);
    let trend = trend(&attempts, w.now_ms);
    let kpis = kpis(&measured, &attempts, &latencies, &trend);
    let mut alerts = slowdown_alerts(&stages, w.runs);
    if let Some(q) = kpis.iter().find(|k| k.key == "quality_score")
        && q.meets == Some(false)
    {
        alerts.push(Alert {
            run: String::new(),
            at: w.now_ms,
            kind: "quality_threshold_breach",
            message: format!("quality score {} is below the seed's target {}", q.display, q.target),
        });
    }
    Stats {
        generated_at: w.now_ms,
        since_ms: w.since_ms,
        runs: measured.len(),
        kpis,
        trend,
        latency: latency(&latencies),
        bottleneck,
        detectors: detectors(&measured, &attempts, w.queue_samples),
        agents: usage_by(&attempts, |a| &a.agent),
        tools: usage_by(&attempts, |a| &a.tool),
        stages,
        alerts,
    }
}

/// Seconds from a task's first attempt to the end of its successful one, per completed task.
fn task_latencies(attempts: &[(&RunSnapshot, &AttemptFact)]) -> Vec<f64> {
    let mut first: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    let mut done: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for (r, a) in attempts {
        let key = (r.run.id.as_str(), a.task_id.as_str());
        let start = first.entry(key).or_insert(a.started_at);
        *start = (*start).min(a.started_at);
        if a.status == "succeeded"
            && let Some(end) = end_ms(a)
        {
            done.insert(key, end);
        }
    }
    done.iter().map(|(k, end)| (end - first[k]).max(0) as f64 / 1000.0).collect()
}

fn trend(attempts: &[(&RunSnapshot, &AttemptFact)], now: i64) -> Trend {
    let rate_since = |from: i64, to: i64| {
        let (mut n, mut ok) = (0u64, 0u64);
        for (_, a) in attempts {
            if end_ms(a).is_some_and(|e| e > from && e <= to) {
                n += 1;
                ok += u64::from(a.status == "succeeded");
            }
        }
        (n, ok)
    };
    let buckets = (0..24)
        .rev()
        .map(|i| {
            let end_ms = now - i * HOUR_MS;
            let start_ms = end_ms - HOUR_MS;
            let (attempts, succeeded) = rate_since(start_ms, end_ms);
            TrendBucket { start_ms, end_ms, attempts, succeeded, rate: ratio(succeeded as f64, attempts as f64) }
        })
        .collect();
    let rate = |hours: i64| {
        let (n, ok) = rate_since(now - hours * HOUR_MS, now);
        ratio(ok as f64, n as f64)
    };
    Trend { rate_1h: rate(1), rate_24h: rate(24), buckets }
}

fn latency(latencies: &[f64]) -> Latency {
    let mut counts = vec![0u64; LATENCY_BUCKETS.len() + 1];
    for l in latencies {
        let i = LATENCY_BUCKETS.iter().position(|b| l <= b).unwrap_or(LATENCY_BUCKETS.len());
        counts[i] += 1;
    }
    let buckets = counts
        .into_iter()
        .enumerate()
        .map(|(i, count)| LatencyBucket { le: LATENCY_BUCKETS.get(i).copied(), count })
        .collect();
    Latency {
        p50: quantile(latencies, 0.5),
        p90: quantile(latencies, 0.9),
        p95: quantile(latencies, 0.95),
        buckets,
    }
}

struct Fig {
    value: Option<f64>,
    note: Option<String>,
}

impl Fig {
    fn of(value: Option<f64>) -> Self {
        Fig { value, note: None }
    }
    fn none(note: &str) -> Self {
        Fig { value: None, note: Some(note.to_string()) }
    }
}

/// How a target reads and how a value is shown.
#[derive(Clone, Copy)]
enum Target {
    Above(f64),
    Below(f64),
    AtLeast(f64),
    None,
}

#[derive(Clone, Copy)]
enum Unit {
    Percent,
    Seconds,
    PerHour,
}

fn kpi(key: &'static str, label: &'static str, fig: Fig, target: Target, target_text: &'static str, unit: Unit) -> Kpi {
    let display = match (fig.value, unit) {
        (None, _) => "—".to_string(),
        (Some(v), Unit::Percent) => format!("{:.1}%", v * 100.0),
        (Some(v), Unit::Seconds) if v < 1.0 => format!("{:.0} ms", v * 1000.0),
        (Some(v), Unit::Seconds) => format!("{v:.2} s"),
        (Some(v), Unit::PerHour) => format!("{v:.1}/h"),
    };
    let meets = fig.value.and_then(|v| match target {
        Target::Above(t) => Some(v > t),
        Target::Below(t) => Some(v < t),
        Target::AtLeast(t) => Some(v >= t),
        Target::None => None,
    });
    let note = fig.note.or_else(|| match (fig.value, target) {
        (None, _) => Some("no data in the window".to_string()),
        (Some(_), Target::None) => Some("the seed sets no target".to_string()),
        _ => None,
    });
    Kpi { key, label, value: fig.value, display, target: target_text, meets, note }
}

fn kpis(runs: &[&RunSnapshot], attempts: &[(&RunSnapshot, &AttemptFact)], latencies: &[f64], trend: &Trend) -> Vec<Kpi> {
    use Target::*;
    use Unit::*;
    // Tasks assigned: attempted, and not still running; completed: merged.
    let mut tasks: BTreeMap<(&str, &str), (bool, bool)> = BTreeMap::new();
    for (r, a) in attempts {
        let t = tasks.entry((&r.run.id, &a.task_id)).or_insert((false, false));
        t.0 |= a.task_status != "running" && a.task_status != "pending";
        t.1 |= a.task_status == "done";
    }
    let assigned = tasks.values().filter(|t| t.0).count();
    let completed = tasks.values().filter(|t| t.1).count();
    let gates: Vec<bool> = runs.iter().flat_map(|r| r.gates.iter().map(|g| g.passed)).collect();
    let busy_ms = union_ms(runs.iter().map(|r| run_span(r)).collect());
    let ended_attempts: Vec<&AttemptFact> = attempts.iter().map(|(_, a)| *a).filter(|a| ended(a)).collect();

    // Coordination overhead: run time in which no tool was executing.
    let (mut wall, mut executing, mut gaps, mut idle, mut stage_agent_ms) = (0i64, 0i64, 0i64, 0i64, 0i64);
    let (mut critical, mut efficiency_wall) = (0i64, 0i64);
    for r in runs {
        let (start, end) = run_span(r);
        wall += end - start;
        executing += union_ms(
            r.attempts
                .iter()
                .filter_map(|a| Some((a.started_at, a.started_at + a.usage.map(|u| u.call_ms as i64).or(a.duration_ms)?)))
                .collect(),
        );
        let stage_spans: Vec<(i64, i64)> = r.stages.iter().filter_map(stage_span).collect();
        gaps += (end - start) - union_ms(stage_spans.clone());
        // Agent idle time: within each stage, the time each of its agents ran nothing.
        let mut run_critical = 0i64;
        for s in &r.stages {
            let Some((ss, se)) = stage_span(s) else { continue };
            let mut per_agent: BTreeMap<&str, i64> = BTreeMap::new();
            for a in r.attempts.iter().filter(|a| a.stage == s.stage) {
                *per_agent.entry(a.agent.as_str()).or_default() += a.duration_ms.unwrap_or(0);
            }
            for busy in per_agent.values() {
                stage_agent_ms += se - ss;
                idle += (se - ss - busy).max(0);
            }
            run_critical += per_agent.values().copied().max().unwrap_or(0);
        }
        if r.run.status == "completed" {
            critical += run_critical;
            efficiency_wall += end - start;
        }
    }
    let call_overheads: Vec<f64> = ended_attempts
        .iter()
        .filter_map(|a| Some((a.duration_ms? - a.usage?.call_ms as i64).max(0) as f64 / 1000.0))
        .collect();
    let delivered = ended_attempts.iter().filter(|a| !a.error.as_deref().is_some_and(lost_message)).count();
    let correlated = attempts.iter().filter(|(r, a)| !a.trace_id.is_empty() && a.trace_id == r.run.trace_id).count();
    let context7: Vec<f64> = ended_attempts
        .iter()
        .filter(|a| a.tool.starts_with("context7_") && a.status == "succeeded")
        .filter_map(|a| Some(a.duration_ms? as f64 / 1000.0))
        .collect();
    let mut recoveries = Vec::new();
    for group in group_tasks(attempts).values() {
        let first_failure = group.iter().filter(|a| a.status == "failed").filter_map(|a| end_ms(a)).min();
        let success = group.iter().filter(|a| a.status == "succeeded").filter_map(|a| end_ms(a)).max();
        if let (Some(f), Some(s)) = (first_failure, success) {
            recoveries.push((s - f).max(0) as f64 / 1000.0);
        }
    }
    let no_measure = "no honest measure yet: the journal does not record which context a tool used";
    vec![
        kpi("completion_rate", "Completion rate", Fig::of(ratio(completed as f64, assigned as f64)), Above(0.95), "> 95%", Percent),
        kpi(
            "quality_score",
            "Quality score",
            Fig::of(ratio(gates.iter().filter(|p| **p).count() as f64, gates.len() as f64)),
            Above(0.90),
            "> 90%",
            Percent,
        ),
        kpi("response_time_p90", "Response time P90", Fig::of(quantile(latencies, 0.9)), Below(30.0), "< 30 s", Seconds),
        kpi(
            "throughput",
            "Throughput",
            Fig::of((busy_ms > 0 && completed > 0).then(|| completed as f64 / (busy_ms as f64 / HOUR_MS as f64))),
            None,
            "tasks per hour",
            PerHour,
        ),
        kpi(
            "coordination_overhead",
            "Coordination overhead",
            Fig::of(ratio((wall - executing).max(0) as f64, wall as f64)),
            None,
            "non-execution time / total",
            Percent,
        ),
        kpi(
            "parallel_efficiency",
            "Parallel efficiency",
            Fig::of(ratio(critical as f64, efficiency_wall as f64).map(|v| v.min(1.0))),
            None,
            "speed-up / theoretical maximum",
            Percent,
        ),
        kpi("error_recovery_time", "Error recovery time", Fig::of(mean(&recoveries)), None, "failure detected → resolved", Seconds),
        kpi("success_rate_1h", "Success rate (1 h)", Fig::of(trend.rate_1h), None, "rolling 1 h", Percent),
        kpi("success_rate_24h", "Success rate (24 h)", Fig::of(trend.rate_24h), None, "rolling 24 h", Percent),
        kpi("agent_idle_time", "Agent idle time", Fig::of(ratio(idle as f64, stage_agent_ms as f64)), Below(0.05), "< 5%", Percent),
        kpi(
            "context_switching_overhead",
            "Context switching overhead",
            Fig::of(ratio(gaps.max(0) as f64, wall as f64)),
            Below(0.10),
            "< 10%",
            Percent,
        ),
        kpi(
            "message_delivery_rate",
            "Message delivery rate",
            Fig::of(ratio(delivered as f64, ended_attempts.len() as f64)),
            AtLeast(0.999),
            "≥ 99.9%",
            Percent,
        ),
        kpi(
            "trace_correlation",
            "End-to-end trace correlation",
            Fig::of(ratio(correlated as f64, attempts.len() as f64)),
            AtLeast(1.0),
            "100%",
            Percent,
        ),
        kpi("event_latency_p95", "Event processing latency P95", Fig::of(quantile(&call_overheads, 0.95)), Below(0.1), "< 100 ms", Seconds),
        kpi("context7_query_time_p90", "Context7 query time P90", Fig::of(quantile(&context7, 0.9)), Below(5.0), "< 5 s", Seconds),
        kpi("context_retention", "Context retention", Fig::none(no_measure), Above(0.85), "> 85%", Percent),
        kpi("knowledge_application_rate", "Knowledge application rate", Fig::none(no_measure), Above(0.85), "> 85%", Percent),
        kpi(
            "failure_probability",
            "Failure probability",
            Fig::none("no honest measure yet: no failure model is fitted"),
            None,
            "predictive",
            Percent,
        ),
    ]
}

/// An attempt whose result never came back (the bus gave up on it).
fn lost_message(error: &str) -> bool {
    error.starts_with("no worker finished task") || error.starts_with("bus:")
}

fn usage_by<'a>(attempts: &[(&'a RunSnapshot, &'a AttemptFact)], key: impl Fn(&'a AttemptFact) -> &'a String) -> BTreeMap<String, Usage> {
    let mut out: BTreeMap<String, Usage> = BTreeMap::new();
    for (_, a) in attempts.iter().filter(|(_, a)| ended(a)) {
        let u = out.entry(key(a).clone()).or_default();
        u.tasks += 1;
        if let Some(usage) = a.usage {
            u.fuel += usage.fuel;
            u.memory_peak_bytes = u.memory_peak_bytes.max(usage.memory_peak);
            u.call_seconds += usage.call_ms as f64 / 1000.0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.9), Some(9.0));
        assert_eq!(quantile(&v, 0.5), Some(5.0));
        assert_eq!(quantile(&v, 1.0), Some(10.0));
        assert_eq!(quantile(&[], 0.9), None);
    }

    #[test]
    fn intervals_are_merged_before_they_are_summed() {
        assert_eq!(union_ms(vec![(0, 10), (5, 15), (20, 30)]), 25);
        assert_eq!(union_ms(vec![]), 0);
    }
}

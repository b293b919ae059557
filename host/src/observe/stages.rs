//! Stages against their past: each stage's mean time in the window, the
//! bottleneck, and the latest run against the median of the earlier runs of
//! the same pipeline — the seed's manual trigger
//! `performance_degradation: "> 50% slower than baseline"`.

use std::collections::BTreeSet;

use serde::Serialize;

use super::facts::{mean, median, stage_span};
use crate::store::RunSnapshot;

/// A stage this much slower than its baseline raises the trigger.
pub const SLOWDOWN_TRIGGER: f64 = 1.5;

/// A raised trigger or threshold breach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// The run it concerns (empty: the window as a whole).
    pub run: String,
    pub at: i64,
    /// `performance_degradation`, `quality_threshold_breach`.
    pub kind: &'static str,
    pub message: String,
}

/// A stage's time across the window, and in the latest run against the
/// median of the runs of the same pipeline before it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageStat {
    pub pipeline: String,
    pub stage: String,
    pub runs: usize,
    pub mean_seconds: f64,
    pub latest_run: String,
    pub latest_seconds: f64,
    /// Median of the earlier runs; `None` for a stage never run before.
    pub baseline_seconds: Option<f64>,
    pub slowdown: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bottleneck {
    pub pipeline: String,
    pub stage: String,
    pub seconds: f64,
}

/// Per pipeline and stage: mean time in the window; the latest run against
/// the median of the earlier runs of the same pipeline.
pub(super) fn stage_stats(all: &[RunSnapshot], measured: &[&RunSnapshot]) -> Vec<StageStat> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for r in measured.iter().rev() {
        for s in &r.stages {
            let key = (r.run.pipeline.clone(), s.stage.clone());
            if s.status != "done" || seen.contains(&key) {
                continue;
            }
            let Some((ss, se)) = stage_span(s) else { continue };
            seen.insert(key);
            let durations = |runs: &mut dyn Iterator<Item = &RunSnapshot>| -> Vec<f64> {
                runs.filter(|o| o.run.pipeline == r.run.pipeline)
                    .flat_map(|o| o.stages.iter().filter(|x| x.stage == s.stage && x.status == "done"))
                    .filter_map(stage_span)
                    .map(|(a, b)| (b - a) as f64 / 1000.0)
                    .collect()
            };
            let window = durations(&mut measured.iter().copied());
            let earlier = durations(&mut all.iter().filter(|o| o.run.created_at < r.run.created_at));
            let latest = (se - ss) as f64 / 1000.0;
            let baseline = median(&earlier);
            out.push(StageStat {
                pipeline: r.run.pipeline.clone(),
                stage: s.stage.clone(),
                runs: window.len(),
                mean_seconds: mean(&window).unwrap_or(latest),
                latest_run: r.run.id.clone(),
                latest_seconds: latest,
                baseline_seconds: baseline,
                slowdown: baseline.filter(|b| *b > 0.0).map(|b| latest / b),
            });
        }
    }
    out.sort_by(|a, b| (&a.pipeline, &a.stage).cmp(&(&b.pipeline, &b.stage)));
    out
}

pub(super) fn slowdown_alerts(stages: &[StageStat], all: &[RunSnapshot]) -> Vec<Alert> {
    stages
        .iter()
        .filter(|s| s.slowdown.is_some_and(|x| x > SLOWDOWN_TRIGGER))
        .map(|s| {
            let earlier = all.iter().filter(|r| r.run.pipeline == s.pipeline && r.run.id != s.latest_run).count();
            Alert {
                run: s.latest_run.clone(),
                at: all.iter().find(|r| r.run.id == s.latest_run).map_or(0, |r| r.run.updated_at),
                kind: "performance_degradation",
                message: format!(
                    "stage `{}` of {} took {:.2} s in run {}: {:.1}× its baseline {:.2} s (median of {earlier} earlier run(s); the seed's trigger is > 50% slower)",
                    s.stage,
                    s.pipeline,
                    s.latest_seconds,
                    s.latest_run,
                    s.slowdown.unwrap_or(0.0),
                    s.baseline_seconds.unwrap_or(0.0)
                ),
            }
        })
        .collect()
}

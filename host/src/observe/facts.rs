//! Small measures over journal facts that the KPIs, the stage baselines and
//! the detectors share: when an attempt ended, quantiles, ratios, merged
//! time intervals, a task's attempts grouped.

use std::collections::BTreeMap;

use crate::store::{AttemptFact, RunSnapshot, StageSpan};

pub(super) fn ended(a: &AttemptFact) -> bool {
    a.status != "running"
}

pub(super) fn end_ms(a: &AttemptFact) -> Option<i64> {
    a.duration_ms.map(|d| a.started_at + d)
}

/// The `q`-quantile (0..=1) by the nearest-rank method.
pub(super) fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}

pub(super) fn median(values: &[f64]) -> Option<f64> {
    quantile(values, 0.5)
}

pub(super) fn ratio(part: f64, whole: f64) -> Option<f64> {
    (whole > 0.0).then(|| part / whole)
}

/// `[start, end)` intervals merged; their total length.
pub(super) fn union_ms(mut spans: Vec<(i64, i64)>) -> i64 {
    spans.sort();
    let (mut total, mut cur): (i64, Option<(i64, i64)>) = (0, None);
    for (s, e) in spans {
        cur = match cur {
            Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                total += ce - cs;
                Some((s, e))
            }
            None => Some((s, e)),
        };
    }
    total + cur.map_or(0, |(s, e)| e - s)
}

/// A run's wall time: creation to its last update (now, while it runs).
pub(super) fn run_span(r: &RunSnapshot) -> (i64, i64) {
    (r.run.created_at, r.run.updated_at.max(r.run.created_at))
}

pub(super) fn stage_span(s: &StageSpan) -> Option<(i64, i64)> {
    Some((s.started_at?, s.finished_at?)).filter(|(a, b)| b >= a)
}

pub(super) fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

pub(super) fn group_tasks<'a>(attempts: &[(&'a RunSnapshot, &'a AttemptFact)]) -> BTreeMap<(&'a str, &'a str), Vec<&'a AttemptFact>> {
    let mut groups: BTreeMap<(&str, &str), Vec<&AttemptFact>> = BTreeMap::new();
    for (r, a) in attempts {
        groups.entry((r.run.id.as_str(), a.task_id.as_str())).or_default().push(a);
    }
    groups
}

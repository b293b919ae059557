//! Does a run's journal still describe its workspace, and itself? The
//! seed's `data_corruption: inconsistent state detection`.
//!
//! The journal records the sha256 of every file a task merged, before the
//! merge writes it. [`verify`] reads every merged path back: a file whose
//! digest none of its merges recorded, or that is gone, was changed behind
//! the run's back. A task interrupted mid-merge (`merging`) is checked in its
//! staging directory instead, which its resume copies from. The journal is
//! also checked against itself: a `done` task has a succeeded attempt, and a
//! merge names a task the journal knows. `resume` refuses to build on a run
//! with findings (it halts for review); `taylordash runs verify` lists them.
//! Changes an operator accepted (`resume --accept-workspace-changes`, an
//! `workspace_changes_accepted` event) count as recorded from then on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use taylordash_protocol::{AttemptStatus, TaskStatus};

use super::merge::sha256_file;
use crate::store::{Journal, StoreError};

/// One way the journal and the files disagree.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    /// A merged file now holds bytes no merge of the run wrote.
    Changed { path: String, recorded: Vec<String>, now: String },
    /// A merged file is gone (or unreadable).
    Missing { path: String, reason: String },
    /// The journal contradicts itself.
    Inconsistent { detail: String },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Changed { path, recorded, now } => {
                let recorded: Vec<&str> = recorded.iter().map(|d| &d[..d.len().min(12)]).collect();
                write!(f, "{path}: changed since the run merged it (sha256 now {}, the journal recorded {})", &now[..now.len().min(12)], recorded.join(" or "))
            }
            Finding::Missing { path, reason } => write!(f, "{path}: merged by the run, now missing ({reason})"),
            Finding::Inconsistent { detail } => write!(f, "the journal disagrees with itself: {detail}"),
        }
    }
}

/// Everything about `journal`'s run that no longer holds in `workspace`.
pub fn verify(journal: &Journal, workspace: &Path) -> Result<Vec<Finding>, StoreError> {
    let mut findings = Vec::new();
    let tasks: BTreeMap<String, crate::store::TaskRow> = journal.tasks()?.into_iter().map(|t| (t.task_id.clone(), t)).collect();
    for t in tasks.values() {
        if t.status == TaskStatus::Done.as_str()
            && !journal.attempt_rows(&t.task_id)?.iter().any(|a| a.status == AttemptStatus::Succeeded.as_str())
        {
            findings.push(Finding::Inconsistent { detail: format!("task {} is done without a succeeded attempt", t.task_id) });
        }
    }
    // path → digests its merges recorded; merging tasks' files checked in staging
    let mut recorded: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let accepted = accepted(journal)?;
    for (path, task_id, sha) in journal.merge_digests()? {
        let Some(task) = tasks.get(&task_id) else {
            findings.push(Finding::Inconsistent { detail: format!("{path} is recorded as merged by task {task_id}, which the journal does not have") });
            continue;
        };
        if task.status == TaskStatus::Merging.as_str() {
            if let Some(staging) = &task.staging {
                check(Path::new(staging), &path, &BTreeSet::from([sha]), &mut findings);
            }
            continue;
        }
        recorded.entry(path).or_default().insert(sha);
    }
    for (path, digests) in &recorded {
        check(workspace, path, digests, &mut findings);
    }
    findings.retain(|f| !accepted.contains(f));
    Ok(findings)
}

/// What operators accepted when they resumed the run anyway.
fn accepted(journal: &Journal) -> Result<Vec<Finding>, StoreError> {
    let mut accepted = Vec::new();
    for e in journal.events()?.into_iter().filter(|e| e.kind == "workspace_changes_accepted") {
        let data: serde_json::Value = serde_json::from_str(&e.data).unwrap_or_default();
        if let Some(findings) = data.get("findings").and_then(|f| f.as_array()) {
            accepted.extend(findings.iter().filter_map(|f| serde_json::from_value::<Finding>(f.clone()).ok()));
        }
    }
    Ok(accepted)
}

/// `root/path` must hold one of `digests`.
fn check(root: &Path, path: &str, digests: &BTreeSet<String>, findings: &mut Vec<Finding>) {
    let file = root.join(path);
    let shown = file.display().to_string();
    match sha256_file(&file) {
        Ok(now) if digests.contains(&now) => {}
        Ok(now) => findings.push(Finding::Changed { path: shown, recorded: digests.iter().cloned().collect(), now }),
        Err(e) => findings.push(Finding::Missing { path: shown, reason: e.to_string() }),
    }
}

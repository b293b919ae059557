//! Publishing a task's `/out` into the run's workspace, under the run's
//! rules: `add_only` never replaces a file the run did not write itself, and
//! two agents of one parallel stage writing the same path are resolved by
//! agent priority (list order), or by an agent's reservation of the path,
//! with the decision recorded — never silently last-writer-wins. Every file
//! is checked before any is written: a task that loses a path merges nothing
//! (the orchestrator rolls it back and runs it again with the conflict as
//! feedback).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::sandbox::staging::{self, MergeError};
use crate::store::{Journal, StoreError};

/// What to do with one staged file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Write,
    /// The destination already holds these exact bytes.
    Same,
    /// Another agent of the stage with higher priority wrote it, or reserved
    /// it: keep theirs.
    KeepOther { winner: String, reserved: bool },
}

#[derive(Debug, Clone)]
pub struct PlannedFile {
    pub rel: String,
    pub sha256: String,
    pub action: Action,
    /// Set when this write overrides a lower-priority agent's file.
    pub overrides: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MergeRefused {
    #[error("{0}")]
    Staging(#[from] MergeError),
    #[error("add_only: the task would overwrite `{0}`, which the workspace already had; the workspace is unchanged")]
    AddOnly(String),
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who is merging: the task, its agent and that agent's priority in the stage.
pub struct Merger<'a> {
    pub task_id: &'a str,
    pub agent: &'a str,
    pub stage: &'a str,
    /// Agents of the stage in priority order (first wins).
    pub agents: &'a [String],
    /// `(agent, path)` reservations of the stage's agents.
    pub reservations: &'a [(String, String)],
    pub add_only: bool,
}

pub fn sha256_file(path: &Path) -> Result<String, MergeRefused> {
    let bytes = std::fs::read(path).map_err(|source| MergeRefused::Io { path: path.to_path_buf(), source })?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// Decide, for every file staged in `staging`, what merging it means.
pub fn plan(m: &Merger<'_>, journal: &Journal, staging: &Path, workspace: &Path) -> Result<Vec<PlannedFile>, MergeRefused> {
    let mut files = Vec::new();
    staging::collect(staging, Path::new(""), &mut files)?;
    files.sort();
    let priority = |agent: &str| m.agents.iter().position(|a| a == agent).unwrap_or(usize::MAX);
    let mut planned = Vec::with_capacity(files.len());
    for rel in files {
        let rel_s = rel.to_string_lossy().into_owned();
        // A symlinked directory of the workspace must not carry the write out of it.
        staging::check_parents(workspace, &rel)?;
        let sha = sha256_file(&staging.join(&rel))?;
        let dest = workspace.join(&rel);
        let mut file = PlannedFile { rel: rel_s.clone(), sha256: sha.clone(), action: Action::Write, overrides: None };
        let reserver = m.reservations.iter().find(|(agent, path)| agent != m.agent && crate::pipeline::model::reserved_by(path, &rel_s));
        if let Some((agent, _)) = reserver {
            file.action = Action::KeepOther { winner: agent.clone(), reserved: true };
        } else if let Ok(meta) = std::fs::symlink_metadata(&dest) {
            // Only a regular file is read: a symlink is never followed (out
            // of the workspace, or to a device), a FIFO never blocks the run;
            // either counts as another's file and is replaced, not written through.
            let current = if meta.file_type().is_file() || meta.is_dir() { sha256_file(&dest)? } else { String::new() };
            let owners = journal.merged_by(&rel_s)?;
            let owner = owners.iter().find(|(_, _, _, s)| *s == current);
            if current == sha {
                file.action = Action::Same;
            } else if let Some((task, agent, stage, _)) = owner {
                if task == m.task_id || (stage == m.stage && agent == m.agent) {
                    // Our own interrupted merge, or this agent's own earlier
                    // attempt at the stage: replacing it is not overwriting.
                } else if stage == m.stage && agent != m.agent {
                    if priority(agent) < priority(m.agent) {
                        file.action = Action::KeepOther { winner: agent.clone(), reserved: false };
                    } else {
                        file.overrides = Some(agent.clone());
                    }
                } else if m.add_only {
                    return Err(MergeRefused::AddOnly(rel_s));
                }
            } else if m.add_only {
                return Err(MergeRefused::AddOnly(rel_s));
            }
        }
        planned.push(file);
    }
    Ok(planned)
}

/// Write the planned files; returns the paths written or confirmed.
pub fn apply(planned: &[PlannedFile], staging: &Path, workspace: &Path) -> Result<Vec<String>, MergeRefused> {
    let mut published = Vec::new();
    for f in planned {
        match f.action {
            Action::Write => {
                staging::publish(&staging.join(&f.rel), &workspace.join(&f.rel))
                    .map_err(|source| MergeRefused::Io { path: workspace.join(&f.rel), source })?;
                published.push(f.rel.clone());
            }
            Action::Same => published.push(f.rel.clone()),
            Action::KeepOther { .. } => {}
        }
    }
    Ok(published)
}

/// Remove the temporary copies (`.taylordash-merge-*`) an interrupted
/// merge of `staging` left beside its destinations in `workspace` (the
/// orchestrator died between copying a file and renaming it into place).
/// Call with the run's merges held off (the journal lock): a live merge's
/// copy looks the same. Returns how many were removed.
pub fn sweep_stale_copies(staging: &Path, workspace: &Path) -> usize {
    let mut files = Vec::new();
    if staging::collect(staging, Path::new(""), &mut files).is_err() {
        return 0;
    }
    let dirs: std::collections::BTreeSet<PathBuf> = files.iter().filter_map(|rel| workspace.join(rel).parent().map(Path::to_path_buf)).collect();
    let mut removed = 0;
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let stale = e.file_name().to_string_lossy().starts_with(".taylordash-merge-") && e.file_type().is_ok_and(|t| t.is_file());
            if stale && std::fs::remove_file(e.path()).is_ok() {
                removed += 1;
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupted_merge_leaves_no_copies_once_swept() {
        let root = tempfile::tempdir().unwrap();
        let (staging, ws) = (root.path().join("staging"), root.path().join("ws"));
        std::fs::create_dir_all(staging.join("app")).unwrap();
        std::fs::create_dir_all(ws.join("app")).unwrap();
        std::fs::create_dir_all(ws.join("other")).unwrap();
        std::fs::write(staging.join("app/main.py"), "new").unwrap();
        std::fs::write(ws.join("app/.taylordash-merge-Ab12Cd"), "half a copy").unwrap();
        std::fs::write(ws.join("app/keep.py"), "theirs").unwrap();
        std::fs::write(ws.join("other/.taylordash-merge-Zz"), "not this task's directory").unwrap();
        assert_eq!(sweep_stale_copies(&staging, &ws), 1);
        assert!(!ws.join("app/.taylordash-merge-Ab12Cd").exists());
        assert!(ws.join("app/keep.py").exists() && ws.join("other/.taylordash-merge-Zz").exists());
    }

    /// Found by `taylordash-fuzz` (target `merge`): a run's merge wrote a
    /// staged file through a symlinked directory of the workspace.
    #[cfg(unix)]
    #[test]
    fn a_symlinked_directory_in_the_workspace_is_not_merged_through() {
        let root = tempfile::tempdir().unwrap();
        let (staging, workspace, outside) = (root.path().join("staging"), root.path().join("ws"), root.path().join("outside"));
        for d in [&staging, &workspace, &outside] {
            std::fs::create_dir(d).unwrap();
        }
        std::fs::create_dir(staging.join("review")).unwrap();
        std::fs::write(staging.join("review/comments.md"), "pwned").unwrap();
        std::os::unix::fs::symlink(&outside, workspace.join("review")).unwrap();
        let journal = Journal::open(&root.path().join("journal.db")).unwrap();
        let agents = ["a".to_string()];
        let m = Merger { task_id: "t", agent: "a", stage: "s", agents: &agents, reservations: &[], add_only: false };
        let err = plan(&m, &journal, &staging, &workspace).unwrap_err();
        assert!(err.to_string().contains("`review` in the destination is a symlink"), "{err}");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    }

    /// Found by `taylordash-fuzz` (target `merge`): a FIFO in the workspace at
    /// a staged path blocked the run's merge forever (it was read to hash it);
    /// a symlink there was followed to hash its target.
    #[cfg(unix)]
    #[test]
    fn a_fifo_or_symlink_at_a_staged_path_is_replaced_without_being_read() {
        let root = tempfile::tempdir().unwrap();
        let (staging, workspace) = (root.path().join("staging"), root.path().join("ws"));
        for d in [&staging, &workspace] {
            std::fs::create_dir(d).unwrap();
        }
        std::fs::write(staging.join("pipe"), "new").unwrap();
        std::fs::write(staging.join("link"), "new").unwrap();
        let fifo = std::ffi::CString::new(workspace.join("pipe").into_os_string().into_encoded_bytes()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        std::os::unix::fs::symlink("/dev/zero", workspace.join("link")).unwrap();
        let journal = Journal::open(&root.path().join("journal.db")).unwrap();
        let agents = ["a".to_string()];
        let mut m = Merger { task_id: "t", agent: "a", stage: "s", agents: &agents, reservations: &[], add_only: true };
        let err = plan(&m, &journal, &staging, &workspace).unwrap_err();
        assert!(matches!(err, MergeRefused::AddOnly(_)), "{err}");
        m.add_only = false;
        let planned = plan(&m, &journal, &staging, &workspace).unwrap();
        assert!(planned.iter().all(|f| f.action == Action::Write));
        apply(&planned, &staging, &workspace).unwrap();
        for name in ["pipe", "link"] {
            let meta = std::fs::symlink_metadata(workspace.join(name)).unwrap();
            assert!(meta.file_type().is_file(), "{name}");
            assert_eq!(std::fs::read_to_string(workspace.join(name)).unwrap(), "new");
        }
    }
}

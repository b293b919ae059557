//! A code review's workspace, from a local git repository: the head
//! revision's tree exported into a fresh directory, and the change from the
//! base revision written as `review/diff.json` — what the review pipeline's
//! tools (`review_scope`, `review_comments`) read. The seed's
//! `context7_code_review` is triggered by "PR creation"; here `--base` and
//! `--head` name the pull request's two ends.
//!
//! Git is run as a program (`git rev-parse`, `git archive`, `git diff`), read
//! only: the repository is never written.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Serialize;

/// Where the change is written in the workspace.
pub const DIFF_FILE: &str = "review/diff.json";

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Git(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl ReviewError {
    /// 2 for what the caller named wrongly, 1 for what failed.
    pub fn exit_code(&self) -> i32 {
        match self {
            ReviewError::Usage(_) => taylordash_protocol::ExitCode::Usage.code(),
            _ => taylordash_protocol::ExitCode::Failed.code(),
        }
    }
}

/// `review/diff.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diff {
    pub base: String,
    pub head: String,
    pub files: Vec<ChangedFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangedFile {
    pub path: String,
    /// `added`, `modified`, `deleted` or `renamed`.
    pub status: &'static str,
    pub old_path: Option<String>,
    /// Lines added or changed in head, numbered as in head.
    pub added: Vec<AddedLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddedLine {
    pub line: usize,
    pub text: String,
}

/// Export `head`'s tree into `workspace` (absent or empty) and write the
/// change from `base` as [`DIFF_FILE`]; returns the change.
pub fn prepare(repo: &Path, base: &str, head: &str, workspace: &Path) -> Result<Diff, ReviewError> {
    let base = commit(repo, "--base", base)?;
    let head = commit(repo, "--head", head)?;
    if std::fs::read_dir(workspace).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(ReviewError::Usage(format!(
            "--workspace {}: not empty; the review exports the head revision into a fresh directory",
            workspace.display()
        )));
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReviewError::Io { path, source }
    };
    std::fs::create_dir_all(workspace).map_err(io(workspace))?;
    export(repo, &head, workspace)?;
    let diff = Diff { files: changes(repo, &base, &head)?, base, head };
    let file = workspace.join(DIFF_FILE);
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let text = serde_json::to_string_pretty(&diff).map_err(|e| ReviewError::Git(e.to_string()))? + "\n";
    std::fs::write(&file, text).map_err(io(&file))?;
    Ok(diff)
}

/// `git` in `repo` with `args`; its stdout, or an error quoting its stderr.
fn git(repo: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["-c", "core.quotepath=off"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// The full id of the commit `rev` names.
fn commit(repo: &Path, flag: &str, rev: &str) -> Result<String, ReviewError> {
    if rev.starts_with('-') {
        return Err(ReviewError::Usage(format!("{flag} `{rev}`: a revision does not start with `-`")));
    }
    let spec = format!("{rev}^{{commit}}");
    git(repo, &["rev-parse", "--verify", "--quiet", &spec])
        .ok()
        .map(|out| String::from_utf8_lossy(&out).trim().to_string())
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ReviewError::Usage(format!("{flag} `{rev}`: not a commit of the repository {}", repo.display())))
}

/// `git archive head`, unpacked into `workspace` by `tar`.
fn export(repo: &Path, head: &str, workspace: &Path) -> Result<(), ReviewError> {
    let archive = git(repo, &["archive", "--format=tar", head]).map_err(|e| ReviewError::Git(format!("git archive {head}: {e}")))?;
    let mut tar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(workspace)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ReviewError::Git(format!("cannot run tar: {e}")))?;
    if let Some(mut stdin) = tar.stdin.take() {
        use std::io::Write;
        stdin.write_all(&archive).map_err(|e| ReviewError::Git(format!("tar: {e}")))?;
    }
    let out = tar.wait_with_output().map_err(|e| ReviewError::Git(format!("tar: {e}")))?;
    if !out.status.success() {
        return Err(ReviewError::Git(format!("tar: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    Ok(())
}

/// Every changed file with its added lines (`git diff -U0`, renames found).
fn changes(repo: &Path, base: &str, head: &str) -> Result<Vec<ChangedFile>, ReviewError> {
    let range = [base, head];
    let git_diff = |extra: &[&str]| {
        let mut args = vec!["diff", "--no-color", "--no-ext-diff", "-M"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&range);
        git(repo, &args).map_err(|e| ReviewError::Git(format!("git diff {base} {head}: {e}")))
    };
    let mut files = statuses(&git_diff(&["--name-status", "-z"])?);
    let patch = String::from_utf8_lossy(&git_diff(&["-U0"])?).into_owned();
    for (path, added) in added_lines(&patch) {
        if let Some(file) = files.iter_mut().find(|f| f.path == path) {
            file.added = added;
        }
    }
    Ok(files)
}

/// `--name-status -z`: `M\0path\0`, `R100\0old\0new\0`, …
fn statuses(out: &[u8]) -> Vec<ChangedFile> {
    let fields: Vec<String> = out.split(|b| *b == 0).map(|f| String::from_utf8_lossy(f).into_owned()).collect();
    let mut files = Vec::new();
    let mut i = 0;
    while i < fields.len() {
        let code = fields[i].chars().next();
        let (status, paths) = match code {
            Some('A') => ("added", 1),
            Some('M' | 'T') => ("modified", 1),
            Some('D') => ("deleted", 1),
            Some('R') => ("renamed", 2),
            Some('C') => ("added", 2),
            _ => {
                i += 1;
                continue;
            }
        };
        let Some(names) = fields.get(i + 1..i + 1 + paths) else { break };
        let (old_path, path) = match names {
            [old, new] => ((status == "renamed").then(|| old.clone()), new.clone()),
            [path] => (None, path.clone()),
            _ => break,
        };
        files.push(ChangedFile { path, status, old_path, added: Vec::new() });
        i += 1 + paths;
    }
    files
}

/// The added lines of a `-U0` patch, per head path. Hunk headers say how
/// many lines follow, so a line whose text starts `++ ` is never taken for a
/// file header.
fn added_lines(patch: &str) -> Vec<(String, Vec<AddedLine>)> {
    let mut out: Vec<(String, Vec<AddedLine>)> = Vec::new();
    let (mut next_line, mut to_remove, mut to_add) = (0usize, 0usize, 0usize);
    for line in patch.lines() {
        if to_remove + to_add > 0 {
            match line.as_bytes().first() {
                Some(b'-') => to_remove = to_remove.saturating_sub(1),
                Some(b'+') => {
                    to_add -= 1;
                    if let Some((_, added)) = out.last_mut() {
                        added.push(AddedLine { line: next_line, text: line[1..].to_string() });
                    }
                    next_line += 1;
                }
                _ => {} // `\ No newline at end of file`
            }
        } else if let Some(path) = line.strip_prefix("+++ ") {
            let path = path.trim_end_matches('\t');
            out.push((path.strip_prefix("b/").unwrap_or(path).to_string(), Vec::new()));
        } else if let Some(hunk) = line.strip_prefix("@@ ") {
            // `@@ -a,b +c,d @@`: b lines removed, d added from head line c.
            let range = |sign: char| {
                let word = hunk.split_whitespace().find_map(|w| w.strip_prefix(sign))?;
                let mut parts = word.split(',');
                let start: usize = parts.next()?.parse().ok()?;
                let count: usize = parts.next().map_or(Some(1), |c| c.parse().ok())?;
                Some((start, count))
            };
            (_, to_remove) = range('-').unwrap_or((0, 0));
            (next_line, to_add) = range('+').unwrap_or((0, 0));
        }
    }
    out.retain(|(path, _)| path != "/dev/null");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_gives_each_file_its_added_lines_numbered_in_head() {
        let patch = "diff --git a/app/main.py b/app/main.py\n--- a/app/main.py\n+++ b/app/main.py\n\
@@ -2,0 +3,3 @@ def f():\n+import httpx\n+x = 1\n+++ not a header\n@@ -9 +12 @@\n-old\n+new\n\
diff --git a/gone.py b/gone.py\n--- a/gone.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n";
        assert_eq!(
            added_lines(patch),
            [(
                "app/main.py".to_string(),
                vec![
                    AddedLine { line: 3, text: "import httpx".into() },
                    AddedLine { line: 4, text: "x = 1".into() },
                    AddedLine { line: 5, text: "++ not a header".into() },
                    AddedLine { line: 12, text: "new".into() },
                ]
            )]
        );
    }

    #[test]
    fn name_status_reads_every_kind_of_change() {
        let out = b"M\0app/main.py\0A\0new.py\0D\0gone.py\0R087\0old name.py\0new name.py\0";
        let files = statuses(out);
        let summary: Vec<(&str, &str, Option<&str>)> =
            files.iter().map(|f| (f.path.as_str(), f.status, f.old_path.as_deref())).collect();
        assert_eq!(
            summary,
            [
                ("app/main.py", "modified", None),
                ("new.py", "added", None),
                ("gone.py", "deleted", None),
                ("new name.py", "renamed", Some("old name.py")),
            ]
        );
    }
}

//! `review/diff.json`: the change under review.
//!
//! `taylordash review --base REV --head REV` exports the head tree into the
//! workspace and writes this file beside it:
//!
//! ```json
//! { "base": "<sha>", "head": "<sha>",
//!   "files": [ { "path": "app/main.py", "status": "modified", "old_path": null,
//!                "added": [ { "line": 12, "text": "import httpx" } ] } ] }
//! ```
//!
//! `added` holds the lines the change added or changed, with their 1-based
//! line numbers in the head tree and their text without the newline. Binary
//! files are absent. Keys this model does not know are ignored (the host may
//! add some); paths must stay inside the workspace.

use std::collections::BTreeSet;
use std::path::{Component, Path};

use serde::{Deserialize, Serialize};

/// Where the host writes the diff, relative to the workspace.
pub const DIFF_FILE: &str = "review/diff.json";

/// The largest `review/diff.json` read (a bigger one is refused, never cut).
pub const MAX_DIFF_BYTES: u64 = 64 << 20;

/// The whole change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diff {
    /// The base revision (a 40-hex sha).
    pub base: String,
    /// The head revision, whose tree the workspace holds.
    pub head: String,
    /// Every changed text file, in the host's (git's) order.
    #[serde(default)]
    pub files: Vec<ChangedFile>,
}

/// One changed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedFile {
    /// Its workspace-relative path in the head tree (the old path for a
    /// deleted file).
    pub path: String,
    pub status: Status,
    /// A renamed file's path in the base tree.
    #[serde(default)]
    pub old_path: Option<String>,
    /// The lines added or changed in the head tree, in line order.
    #[serde(default)]
    pub added: Vec<AddedLine>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Added,
    Modified,
    Deleted,
    Renamed,
}

/// A line of the head tree the change added or changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddedLine {
    /// 1-based, in the head tree.
    pub line: usize,
    /// The line's text, without its newline.
    pub text: String,
}

/// Why `review/diff.json` could not be used; every message names the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffError {
    /// The workspace holds no `review/diff.json`.
    Missing,
    /// It exists but could not be read (not UTF-8, too big, an I/O error).
    Unreadable(String),
    /// It is not the diff's JSON shape (`location` is the parser's line and
    /// column, `message` names the field), or a path leaves the workspace, or
    /// a line number is 0.
    Invalid { location: Option<(usize, usize)>, message: String },
}

impl std::fmt::Display for DiffError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DiffError::Missing => write!(f, "{DIFF_FILE}: no such file in the workspace"),
            DiffError::Unreadable(why) => write!(f, "{DIFF_FILE}: cannot read it: {why}"),
            DiffError::Invalid { location: Some((line, col)), message } => write!(f, "{DIFF_FILE}:{line}:{col}: {message}"),
            DiffError::Invalid { location: None, message } => write!(f, "{DIFF_FILE}: {message}"),
        }
    }
}

impl std::error::Error for DiffError {}

impl DiffError {
    /// The message a review tool fails with: what is wrong, and that the
    /// file comes from `taylordash review`.
    pub fn explained(&self) -> String {
        match self {
            DiffError::Missing => format!(
                "{self}: the review tools run in the review pipeline, `taylordash review --base REV --head REV`, \
                 which exports the head tree and writes it"
            ),
            _ => format!("{self} (`taylordash review --base REV --head REV` writes this file)"),
        }
    }
}

impl Diff {
    /// Read `review/diff.json` of `workspace`.
    pub fn load(workspace: &Path) -> Result<Diff, DiffError> {
        let path = workspace.join(DIFF_FILE);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(DiffError::Missing),
            Err(e) => return Err(DiffError::Unreadable(e.to_string())),
        };
        if !meta.is_file() {
            return Err(DiffError::Unreadable("not a file".into()));
        }
        if meta.len() > MAX_DIFF_BYTES {
            return Err(DiffError::Unreadable(format!("{} bytes, more than the {MAX_DIFF_BYTES} accepted", meta.len())));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| {
            DiffError::Unreadable(if e.kind() == std::io::ErrorKind::InvalidData { "not UTF-8 text".into() } else { e.to_string() })
        })?;
        Diff::from_text(&text)
    }

    /// Parse and check the text of a `review/diff.json`.
    pub fn from_text(text: &str) -> Result<Diff, DiffError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let diff: Diff = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let (line, column) = (inner.line(), inner.column());
            let message = inner.to_string().replacen(&format!(" at line {line} column {column}"), "", 1);
            let message = if path == "." || path.is_empty() { message } else { format!("{path}: {message}") };
            DiffError::Invalid { location: Some((line, column)), message }
        })?;
        de.end().map_err(|e| DiffError::Invalid {
            location: Some((e.line(), e.column())),
            message: "trailing characters after the document".into(),
        })?;
        diff.check()?;
        Ok(diff)
    }

    fn check(&self) -> Result<(), DiffError> {
        for (i, f) in self.files.iter().enumerate() {
            for (key, p) in [("path", Some(&f.path)), ("old_path", f.old_path.as_ref())] {
                if let Some(p) = p
                    && !is_inside(p)
                {
                    return Err(invalid(format!("files[{i}].{key}: `{p}` is not a relative path inside the workspace")));
                }
            }
            if let Some(a) = f.added.iter().position(|a| a.line == 0) {
                return Err(invalid(format!("files[{i}].added[{a}].line: 0 (line numbers start at 1)")));
            }
        }
        Ok(())
    }

    /// The changed file at `path` (its head path).
    pub fn file(&self, path: &str) -> Option<&ChangedFile> {
        self.files.iter().find(|f| f.path == path)
    }

    /// Did the change add or change `line` (1-based) of `path`?
    pub fn is_added(&self, path: &str, line: usize) -> bool {
        self.file(path).is_some_and(|f| f.is_added(line))
    }

    /// The changed paths, in diff order.
    pub fn paths(&self) -> Vec<String> {
        self.files.iter().map(|f| f.path.clone()).collect()
    }

    /// `1a2b3c4..5d6e7f8`.
    pub fn range(&self) -> String {
        format!("{}..{}", crate::short_rev(&self.base), crate::short_rev(&self.head))
    }
}

impl ChangedFile {
    /// Did the change add or change `line` of this file?
    pub fn is_added(&self, line: usize) -> bool {
        self.added.iter().any(|a| a.line == line)
    }

    /// The added line numbers.
    pub fn added_lines(&self) -> BTreeSet<usize> {
        self.added.iter().map(|a| a.line).collect()
    }

    /// The text of added line `line`, if the change added it.
    pub fn added_text(&self, line: usize) -> Option<&str> {
        self.added.iter().find(|a| a.line == line).map(|a| a.text.as_str())
    }

    /// Is the file in the head tree (not deleted)?
    pub fn exists_in_head(&self) -> bool {
        self.status != Status::Deleted
    }

    /// The file's name extension, lower-cased (`py`), if any.
    pub fn extension(&self) -> Option<String> {
        Path::new(&self.path).extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase)
    }
}

fn invalid(message: String) -> DiffError {
    DiffError::Invalid { location: None, message }
}

/// Is `path` relative and inside the workspace (no `..`, no root)?
pub fn is_inside(path: &str) -> bool {
    !path.is_empty() && Path::new(path).components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

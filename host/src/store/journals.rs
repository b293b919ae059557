//! Where runs' journals live: one SQLite file per run under the runs
//! directory (`<runs>/<run>/journal.sqlite`, the default), or one
//! PostgreSQL database shared by every orchestrator that names it
//! (`--journal postgres://…`). Either way a run's directory under the runs
//! directory keeps what is local to the orchestrator driving it (staging,
//! `agents.json`).

use std::path::{Path, PathBuf};

use super::{Journal, Result, RunRow, StoreError};

/// What `--journal` (or `TAYLORDASH_JOURNAL`) names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalUrl {
    /// A SQLite file per run in the runs directory.
    Files,
    /// A PostgreSQL database (`postgres://` or `postgresql://`).
    Postgres(String),
}

impl std::str::FromStr for JournalUrl {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s.is_empty() || s == "sqlite" {
            Ok(JournalUrl::Files)
        } else if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(JournalUrl::Postgres(s.to_string()))
        } else {
            Err(format!("`{}` is neither `sqlite` (a file per run in the runs directory) nor a postgres:// URL", redact(s)))
        }
    }
}

/// The journals of every run an orchestrator can see.
#[derive(Debug, Clone)]
pub struct Journals {
    runs_dir: PathBuf,
    url: JournalUrl,
}

impl Journals {
    pub fn new(runs_dir: PathBuf, url: JournalUrl) -> Self {
        Journals { runs_dir, url }
    }

    /// SQLite files under `runs_dir`.
    pub fn files(runs_dir: &Path) -> Self {
        Journals::new(runs_dir.to_path_buf(), JournalUrl::Files)
    }

    pub fn runs_dir(&self) -> &Path {
        &self.runs_dir
    }

    pub fn url(&self) -> &JournalUrl {
        &self.url
    }

    /// Where a run keeps its local files (staging, `agents.json`).
    pub fn run_dir(&self, run_id: &str) -> PathBuf {
        self.runs_dir.join(run_id)
    }

    /// For messages: the runs directory or the database (no password).
    pub fn describe(&self) -> String {
        match &self.url {
            JournalUrl::Files => self.runs_dir.display().to_string(),
            JournalUrl::Postgres(url) => redact(url),
        }
    }

    /// The journal a new run `run_id` starts in (its run row is written by
    /// [`Journal::create_run`]).
    pub fn create(&self, run_id: &str) -> Result<Journal> {
        match &self.url {
            JournalUrl::Files => Journal::open(&self.run_dir(run_id).join("journal.sqlite")),
            JournalUrl::Postgres(url) => Journal::connect(url, run_id),
        }
    }

    /// The journal of an existing run ([`StoreError::NoRun`] if there is none).
    pub fn open(&self, run_id: &str) -> Result<Journal> {
        let journal = match &self.url {
            JournalUrl::Files => {
                let db = self.run_dir(run_id).join("journal.sqlite");
                // Opening creates a file: look only at one that exists.
                if !valid_run_id(run_id) || !db.is_file() {
                    return Err(StoreError::NoRun(run_id.to_string()));
                }
                Journal::open(&db)?
            }
            JournalUrl::Postgres(url) => Journal::connect(url, run_id)?,
        };
        journal.run()?;
        Ok(journal)
    }

    /// Every run, oldest first. A SQLite journal that cannot be read is
    /// skipped with a warning: one bad run must not hide the others.
    pub fn runs(&self) -> Result<Vec<RunRow>> {
        let mut rows = match &self.url {
            JournalUrl::Files => self
                .file_run_ids()
                .into_iter()
                // The file exists (`file_run_ids`): open it and read its run once.
                .filter_map(|id| match Journal::open(&self.run_dir(&id).join("journal.sqlite")).and_then(|j| j.run()) {
                    Ok(row) => Some(row),
                    Err(e) => {
                        tracing::warn!("skipping a run journal: {e}");
                        None
                    }
                })
                .collect(),
            JournalUrl::Postgres(url) => Journal::connect(url, "")?.run_rows()?,
        };
        rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(rows)
    }

    /// The runs directory's entries that hold a journal file.
    pub(crate) fn file_run_ids(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.runs_dir) else { return Vec::new() };
        entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("journal.sqlite").is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }
}

/// A run id names a directory: no separators, no `..`.
fn valid_run_id(id: &str) -> bool {
    !id.is_empty() && id != "." && id != ".." && !id.contains(['/', '\\'])
}

/// A database URL without its password.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (authority, tail) = rest.split_once('/').map_or((rest, ""), |(a, t)| (a, t));
    let shown = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:***@{host}"),
            None => format!("{user}@{host}"),
        },
        None => authority.to_string(),
    };
    if tail.is_empty() && !rest.contains('/') { format!("{scheme}://{shown}") } else { format!("{scheme}://{shown}/{tail}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_read_and_passwords_never_shown() {
        assert_eq!("sqlite".parse::<JournalUrl>(), Ok(JournalUrl::Files));
        assert!(matches!("postgres://u:p@h/db".parse::<JournalUrl>(), Ok(JournalUrl::Postgres(_))));
        assert_eq!(
            "mysql://u:secret@h/db".parse::<JournalUrl>(),
            Err("`mysql://u:***@h/db` is neither `sqlite` (a file per run in the runs directory) nor a postgres:// URL".into())
        );
        assert_eq!(redact("postgres://td:s3cret@db.example:5432/journal?sslmode=disable"), "postgres://td:***@db.example:5432/journal?sslmode=disable");
        assert_eq!(redact("postgresql://localhost/td"), "postgresql://localhost/td");
        assert_eq!(redact("postgres://u@h"), "postgres://u@h");
    }
}

//! `review_kit`: what the code-review tools (`review_scope`,
//! `review_comments`) share, and nothing else.
//!
//! - [`diff`]: `review/diff.json`, the change under review as `taylordash
//!   review --base REV --head REV` writes it into the workspace (the head
//!   tree exported beside it): changed files, their status and the lines the
//!   change added, with [`Diff::load`] and [`Diff::is_added`];
//! - [`scope`]: `review/scope.json`, which `review_scope` writes and
//!   `review_comments` reads: the libraries new to the repository and where
//!   the change imports them;
//! - [`imports`]: the packages one line of Python or JavaScript/TypeScript
//!   imports (top-level names; relative, `__future__` and `node:` imports
//!   left out);
//! - [`python`]: CPython 3.11's standard library names and the import name →
//!   distribution name map (`yaml` → `pyyaml`);
//! - [`routes`]: FastAPI route decorators (`@router.post("/x")` → `POST /x`),
//!   a router's `prefix`, and path comparison with `{param}` names ignored.
//!
//! Pure functions over text and one file reader: no host calls, nothing
//! specific to the sandbox, so every part is unit-tested natively. A
//! library, not a plugin: it lives under `toolkit/`.

pub mod diff;
pub mod imports;
pub mod python;
pub mod routes;
pub mod scope;

pub use diff::{AddedLine, ChangedFile, DIFF_FILE, Diff, DiffError, Status};
pub use imports::{Language, imports_of};
pub use routes::Route;
pub use scope::{Occurrence, SCOPE_FILE, ScopeFile, ScopeLibrary};

/// `rel` with `\` turned to `/` and leading `./` dropped: how tools name
/// workspace files (`./app/main.py` → `app/main.py`).
pub fn normalize_path(rel: &str) -> String {
    let mut p = rel.trim().replace('\\', "/");
    while let Some(rest) = p.strip_prefix("./") {
        p = rest.to_string();
    }
    p
}

/// The first 7 characters of a revision (`1a2b3c4` of a 40-hex sha); a
/// shorter one as it is.
pub fn short_rev(rev: &str) -> String {
    rev.trim().chars().take(7).collect()
}

#[cfg(test)]
mod tests;

//! Which imports of the change are unfamiliar: not the standard library,
//! not local, not imported anywhere the change did not touch.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use review_kit::imports::{Language, imports_of};
use review_kit::python;
use review_kit::{Diff, Occurrence, ScopeFile, ScopeLibrary};

/// Files bigger than this are not read for imports (bundles, data).
pub const MAX_SOURCE_BYTES: u64 = 2 << 20;
/// How deep the workspace walk goes.
const MAX_DEPTH: usize = 32;

/// What `review/scope.json` holds for `diff` over the head tree at `workspace`.
pub fn scope_of(workspace: &Path, diff: &Diff) -> ScopeFile {
    // Every (language, import) the change adds, in diff order, where the
    // standard library and local modules are already left out.
    let mut candidates: Vec<(Language, String, Occurrence)> = Vec::new();
    for file in diff.files.iter().filter(|f| f.exists_in_head()) {
        let Some(language) = Language::of(&file.path) else { continue };
        for added in &file.added {
            for name in imports_of(language, &added.text) {
                if (language == Language::Python && python::is_stdlib(&name)) || is_local(workspace, language, &name) {
                    continue;
                }
                candidates.push((language, name, Occurrence { file: file.path.clone(), line: added.line }));
            }
        }
    }
    let languages: BTreeSet<Language> = candidates.iter().map(|(l, _, _)| *l).collect();
    let used = used_elsewhere(workspace, diff, &languages);
    let mut libraries: BTreeMap<String, ScopeLibrary> = BTreeMap::new();
    for (language, import, occurrence) in candidates {
        if used.contains(&(language, import.clone())) {
            continue;
        }
        let name = library_name(language, &import);
        let entry = libraries.entry(name.clone()).or_insert_with(|| ScopeLibrary { name, import, occurrences: Vec::new() });
        if !entry.occurrences.contains(&occurrence) {
            entry.occurrences.push(occurrence);
        }
    }
    ScopeFile { files: diff.paths(), libraries: libraries.into_values().collect() }
}

/// What context7 looks a package up by: a Python import's distribution
/// name (`yaml` → `pyyaml`), else the name itself.
pub fn library_name(language: Language, import: &str) -> String {
    match language {
        Language::Python => python::distribution(import).to_string(),
        Language::JavaScript => import.to_string(),
    }
}

/// Is `name` the repository's own code: a `<name>/` directory, or a
/// `<name>.<ext>` module of the language, at the root or under `src/`?
/// (Scoped npm names never are.)
pub fn is_local(workspace: &Path, language: Language, name: &str) -> bool {
    if name.starts_with('@') || name.contains(['/', '\\']) || name.starts_with('.') {
        return false;
    }
    ["", "src"].iter().any(|dir| {
        let base = workspace.join(dir);
        base.join(name).is_dir() || language.extensions().iter().any(|ext| base.join(format!("{name}{ext}")).is_file())
    })
}

/// Every (language, import) on a line of the workspace's source files of
/// `languages` that the change did not add.
pub fn used_elsewhere(workspace: &Path, diff: &Diff, languages: &BTreeSet<Language>) -> BTreeSet<(Language, String)> {
    let mut used = BTreeSet::new();
    if languages.is_empty() {
        return used;
    }
    for rel in source_files(workspace) {
        let Some(language) = Language::of(&rel).filter(|l| languages.contains(l)) else { continue };
        let Some(text) = read_source(&workspace.join(&rel)) else { continue };
        let added = diff.file(&rel).map(|f| f.added_lines()).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            if added.contains(&(i + 1)) {
                continue;
            }
            for name in imports_of(language, line) {
                used.insert((language, name));
            }
        }
    }
    used
}

/// A source file's text: `None` when unreadable, not UTF-8 or too big.
fn read_source(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.len() > MAX_SOURCE_BYTES {
        return None;
    }
    std::fs::read_to_string(path).ok()
}

/// The workspace's Python and JavaScript/TypeScript files, relative with
/// `/`, sorted. Not walked: hidden entries, `__pycache__`, `node_modules`,
/// virtualenvs (`venv`, `virtualenv`, any directory holding `pyvenv.cfg`,
/// `site-packages`) and the review's own `review/`. Symbolic links are not
/// followed.
pub fn source_files(workspace: &Path) -> Vec<String> {
    fn walk(root: &Path, rel: &str, depth: usize, out: &mut Vec<String>) {
        if depth > MAX_DEPTH {
            return;
        }
        let dir = if rel.is_empty() { root.to_path_buf() } else { root.join(rel) };
        let Ok(entries) = std::fs::read_dir(&dir) else { return };
        let mut children: Vec<(String, bool)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let kind = e.file_type().ok()?;
                (kind.is_dir() || kind.is_file()).then(|| (e.file_name().to_string_lossy().into_owned(), kind.is_dir()))
            })
            .collect();
        children.sort();
        for (name, is_dir) in children {
            let child = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
            if name.starts_with('.') {
                continue;
            }
            if is_dir {
                if skipped_dir(root, &child, &name) {
                    continue;
                }
                walk(root, &child, depth + 1, out);
            } else if Language::of(&name).is_some() {
                out.push(child);
            }
        }
    }
    let mut out = Vec::new();
    walk(workspace, "", 0, &mut out);
    out
}

fn skipped_dir(root: &Path, rel: &str, name: &str) -> bool {
    matches!(name, "__pycache__" | "node_modules" | "venv" | "virtualenv" | "site-packages")
        || rel == "review"
        || root.join(rel).join("pyvenv.cfg").is_file()
}

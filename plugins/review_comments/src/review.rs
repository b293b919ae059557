//! What the review comments on: the workspace's optional sources
//! ([`Sources`]) and the comments they give on the change ([`Review`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;
use taylordash_sdk::protocol::{Finding, GateVerdict as GateOutput};

use mcp_client::context7::{self, LIBRARIES_FILE, LibrariesFile};
use review_kit::diff::{ChangedFile, Status};
use review_kit::imports::{Language, imports_of};
use review_kit::{Diff, Occurrence, SCOPE_FILE, ScopeFile, normalize_path, python, routes};

use crate::ReviewCommentsInput;

/// What the tool writes (relative to `/out`): the `enhanced_review_comments` artifact.
pub const REPORT_FILE: &str = "review/enhanced_review_comments.md";
/// The API contract routes are checked against.
pub const OPENAPI_FILE: &str = "openapi.yaml";
/// coverage.py's JSON report (`coverage json -o reports/coverage.json`).
pub const COVERAGE_FILE: &str = "reports/coverage.json";
/// The largest optional file read.
const MAX_FILE_BYTES: u64 = 64 << 20;

/// What a comment is about; also the order of comments on the same line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Library,
    Security,
    Gate,
    Architecture,
    Coverage,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Library => "library",
            Kind::Security => "security",
            Kind::Gate => "gate",
            Kind::Architecture => "architecture",
            Kind::Coverage => "coverage",
        }
    }

    /// Only security findings on the change block it.
    pub fn blocking(self) -> bool {
        self == Kind::Security
    }
}

/// One review comment on a changed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub file: String,
    /// First and last line; `None` for the file as a whole.
    pub lines: Option<(usize, usize)>,
    pub kind: Kind,
    /// One line of Markdown.
    pub text: String,
}

impl Comment {
    fn at(file: &str, line: usize, kind: Kind, text: String) -> Comment {
        Comment { file: file.to_string(), lines: Some((line, line)), kind, text }
    }

    fn whole(file: &str, kind: Kind, text: String) -> Comment {
        Comment { file: file.to_string(), lines: None, kind, text }
    }

    /// `app/main.py`, `app/main.py:12` or `app/main.py:25-27`.
    pub fn location(&self) -> String {
        match self.lines {
            None => self.file.clone(),
            Some((a, b)) if a == b => format!("{}:{a}", self.file),
            Some((a, b)) => format!("{}:{a}-{b}", self.file),
        }
    }

    /// File-level first, then by line, then kind, then text.
    fn order(&self) -> (Option<(usize, usize)>, Kind, &str) {
        (self.lines, self.kind, &self.text)
    }
}

/// The operations of `openapi.yaml`: `(METHOD, normalized path)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contract {
    pub operations: BTreeSet<(String, String)>,
}

impl Contract {
    /// The operations under `paths` (methods get, put, post, delete,
    /// options, head, patch, trace); an error names the file, line and
    /// column.
    pub fn parse(text: &str) -> Result<Contract, String> {
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(|e| match e.location() {
            Some(at) => format!("{OPENAPI_FILE}:{}:{}: {e}", at.line(), at.column()),
            None => format!("{OPENAPI_FILE}: {e}"),
        })?;
        let mut operations = BTreeSet::new();
        if let Some(paths) = doc.get("paths").and_then(serde_yaml_ng::Value::as_mapping) {
            for (path, item) in paths {
                let (Some(path), Some(item)) = (path.as_str(), item.as_mapping()) else { continue };
                for method in item.keys().filter_map(serde_yaml_ng::Value::as_str) {
                    if matches!(method, "get" | "put" | "post" | "delete" | "options" | "head" | "patch" | "trace") {
                        operations.insert((method.to_ascii_uppercase(), routes::normalize(path)));
                    }
                }
            }
        }
        Ok(Contract { operations })
    }

    /// Does the contract declare `method path`? `exact` unless the route is
    /// a router's, which may be mounted under a prefix the module does not
    /// show (`app.include_router(r, prefix=…)`): then a contract path
    /// ending with it counts too.
    pub fn declares(&self, method: &str, path: &str, exact: bool) -> bool {
        let path = routes::normalize(path);
        self.operations.contains(&(method.to_string(), path.clone()))
            || (!exact && self.operations.iter().any(|(m, p)| m == method && routes::ends_with_path(p, &path)))
    }
}

/// coverage.py's JSON report: per measured file, the lines that ran and
/// the executable lines that did not (other keys ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Coverage {
    pub files: BTreeMap<String, CoveredFile>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CoveredFile {
    #[serde(default)]
    pub executed_lines: BTreeSet<usize>,
    #[serde(default)]
    pub missing_lines: BTreeSet<usize>,
}

impl Coverage {
    pub fn parse(text: &str) -> Result<Coverage, String> {
        serde_json::from_str(text).map_err(|e| format!("{COVERAGE_FILE}: {e}"))
    }

    /// The report's entry for workspace file `path`: its key is `path`
    /// (relative to the workspace, `./` allowed) or ends with `/path` (an
    /// absolute path where the tests ran).
    pub fn file(&self, path: &str) -> Option<&CoveredFile> {
        let suffix = format!("/{path}");
        self.files.iter().find(|(k, _)| normalize_path(k) == path).map(|(_, f)| f).or_else(|| {
            self.files.iter().find(|(k, _)| normalize_path(k).ends_with(&suffix)).map(|(_, f)| f)
        })
    }
}

/// The workspace files the review reads besides `review/diff.json`; each
/// may be absent.
#[derive(Debug, Default)]
pub struct Sources {
    pub scope: Option<ScopeFile>,
    /// Library name → Context7 id (`research/libraries.json`); `None`:
    /// nothing was looked up.
    pub resolved: Option<BTreeMap<String, String>>,
    /// `openapi.yaml`, or why it does not parse.
    pub contract: Option<Result<Contract, String>>,
    /// `reports/coverage.json`, or why it does not parse.
    pub coverage: Option<Result<Coverage, String>>,
    /// Files that exist but could not be used (logged as warnings).
    pub warnings: Vec<String>,
}

impl Sources {
    pub fn load(workspace: &Path) -> Sources {
        let mut s = Sources::default();
        match read_json::<ScopeFile>(workspace, SCOPE_FILE) {
            Ok(scope) => s.scope = scope,
            Err(e) => s.warnings.push(format!("{e}: library comments come from the `libraries` input")),
        }
        match read_json::<LibrariesFile>(workspace, LIBRARIES_FILE) {
            Ok(file) => s.resolved = file.map(|f| f.libraries.into_iter().map(|l| (l.library, l.id)).collect()),
            Err(e) => s.warnings.push(format!("{e}: libraries are reported as not looked up")),
        }
        match read_optional(workspace, OPENAPI_FILE) {
            Ok(text) => s.contract = text.map(|t| Contract::parse(&t)),
            Err(e) => s.contract = Some(Err(e)),
        }
        match read_optional(workspace, COVERAGE_FILE) {
            Ok(text) => s.coverage = text.map(|t| Coverage::parse(&t)),
            Err(e) => s.coverage = Some(Err(e)),
        }
        if let Some(Err(e)) = &s.contract {
            s.warnings.push(format!("{e}: added routes are not checked"));
        }
        if let Some(Err(e)) = &s.coverage {
            s.warnings.push(format!("{e}: test coverage is not checked"));
        }
        s
    }
}

/// A workspace JSON file, parsed: `Ok(None)` when absent.
fn read_json<T: serde::de::DeserializeOwned>(workspace: &Path, rel: &str) -> Result<Option<T>, String> {
    match read_optional(workspace, rel)? {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text).map(Some).map_err(|e| format!("{rel}: {e}")),
    }
}

/// A workspace file's text: `Ok(None)` when absent; an error naming it when
/// unreadable, not UTF-8 or too big.
fn read_optional(workspace: &Path, rel: &str) -> Result<Option<String>, String> {
    let path = workspace.join(rel);
    match std::fs::metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{rel}: cannot read it: {e}")),
        Ok(m) if !m.is_file() => return Err(format!("{rel}: not a file")),
        Ok(m) if m.len() > MAX_FILE_BYTES => return Err(format!("{rel}: {} bytes, more than the {MAX_FILE_BYTES} read", m.len())),
        Ok(_) => {}
    }
    std::fs::read_to_string(&path).map(Some).map_err(|e| {
        if e.kind() == std::io::ErrorKind::InvalidData { format!("{rel}: not UTF-8 text") } else { format!("{rel}: cannot read it: {e}") }
    })
}

/// The review: every comment, and what the closing line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// `1a2b3c4..5d6e7f8`.
    pub range: String,
    /// The files the diff lists.
    pub changed_files: usize,
    /// Grouped by file in diff order; file-level comments first, then by line.
    pub comments: Vec<Comment>,
    /// The gates whose verdicts were given: security gates first, each group by name.
    pub gates: Vec<String>,
    /// Gate findings not on the change.
    pub outside: usize,
    /// The closing line's clause on coverage.
    pub coverage_note: String,
}

impl Review {
    pub fn new(workspace: &Path, diff: &Diff, sources: &Sources, input: &ReviewCommentsInput) -> Review {
        let mut comments = library_comments(workspace, diff, sources, input.libraries.as_deref());
        let (gate_comments, outside) = gate_comments(diff, &input.gates);
        comments.extend(gate_comments);
        comments.extend(route_comments(workspace, diff, sources.contract.as_ref()));
        let coverage_note = match &sources.coverage {
            None => format!("no coverage report ({COVERAGE_FILE}): test coverage not checked"),
            Some(Err(e)) => format!("coverage report unusable ({e}): test coverage not checked"),
            Some(Ok(coverage)) => {
                comments.extend(coverage_comments(diff, coverage));
                format!("coverage from {COVERAGE_FILE}")
            }
        };
        let mut ordered = Vec::new();
        for file in &diff.files {
            let mut own: Vec<Comment> = comments.iter().filter(|c| c.file == file.path).cloned().collect();
            own.sort_by(|a, b| a.order().cmp(&b.order()));
            own.dedup();
            ordered.extend(own);
        }
        let mut gates: Vec<String> = input.gates.keys().cloned().collect();
        gates.sort_by_key(|g| (!is_security_gate(g), g.clone()));
        Review { range: diff.range(), changed_files: diff.files.len(), comments: ordered, gates, outside, coverage_note }
    }

    pub fn blocking(&self) -> usize {
        self.comments.iter().filter(|c| c.kind.blocking()).count()
    }
}

/// A gate whose name contains `security` (`security_check`, `security_scan`).
pub fn is_security_gate(name: &str) -> bool {
    name.contains("security")
}

/// One comment per added line importing a library new to the repository.
fn library_comments(workspace: &Path, diff: &Diff, sources: &Sources, given: Option<&[String]>) -> Vec<Comment> {
    let libraries: Vec<(String, String, Vec<Occurrence>)> = match (&sources.scope, given) {
        (Some(scope), _) => scope.libraries.iter().map(|l| (l.name.clone(), l.import.clone(), l.occurrences.clone())).collect(),
        (None, Some(names)) => locate(diff, names),
        (None, None) => Vec::new(),
    };
    let mut out = Vec::new();
    for (name, import, occurrences) in libraries {
        let text = library_text(workspace, &name, &import, sources.resolved.as_ref());
        for o in occurrences.iter().filter(|o| diff.is_added(&o.file, o.line)) {
            out.push(Comment::at(&o.file, o.line, Kind::Library, text.clone()));
        }
    }
    out
}

/// Where the change imports `names` (distribution or import names): for
/// when `review/scope.json` is absent.
fn locate(diff: &Diff, names: &[String]) -> Vec<(String, String, Vec<Occurrence>)> {
    let mut found: BTreeMap<String, (String, Vec<Occurrence>)> = BTreeMap::new();
    for file in diff.files.iter().filter(|f| f.exists_in_head()) {
        let Some(language) = Language::of(&file.path) else { continue };
        for added in &file.added {
            for import in imports_of(language, &added.text) {
                let dist = if language == Language::Python { python::distribution(&import).to_string() } else { import.clone() };
                let Some(name) = names.iter().find(|n| **n == dist || **n == import) else { continue };
                let entry = found.entry(name.clone()).or_insert_with(|| (import.clone(), Vec::new()));
                entry.1.push(Occurrence { file: file.path.clone(), line: added.line });
            }
        }
    }
    found.into_iter().map(|(name, (import, occurrences))| (name, import, occurrences)).collect()
}

/// `` `httpx` is new to this repository: Context7 `/encode/httpx`, docs in `docs/libraries/encode_httpx.md` ``.
pub fn library_text(workspace: &Path, name: &str, import: &str, resolved: Option<&BTreeMap<String, String>>) -> String {
    let head = format!("`{name}` is new to this repository");
    let Some(resolved) = resolved else { return format!("{head}: not looked up") };
    let id = resolved
        .get(name)
        .or_else(|| resolved.get(import))
        .or_else(|| resolved.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v));
    match id {
        None => format!("{head}: Context7 found no library for it"),
        Some(id) => match context7::doc_file(id) {
            Ok(doc) if workspace.join(&doc).is_file() => format!("{head}: Context7 `{id}`, docs in `{doc}`"),
            _ => format!("{head}: Context7 `{id}`, no docs fetched"),
        },
    }
}

/// The gates' findings on the change as comments, and how many were elsewhere.
fn gate_comments(diff: &Diff, gates: &BTreeMap<String, GateOutput>) -> (Vec<Comment>, usize) {
    let mut out = Vec::new();
    let mut outside = 0;
    for (gate, verdict) in gates {
        let kind = if is_security_gate(gate) { Kind::Security } else { Kind::Gate };
        for finding in &verdict.findings {
            match on_change(diff, finding) {
                Some((file, lines)) => {
                    let text = format!("({gate}) {}", one_line(&finding.message));
                    out.push(Comment { file: file.path.clone(), lines, kind, text });
                }
                None => outside += 1,
            }
        }
    }
    (out, outside)
}

/// The changed file and lines a finding is on, if the change touched them:
/// its location's leading line number is an added line, or it is about a
/// whole file the change added or modified. A location without a line
/// (a bare JSON pointer) is not placed.
pub fn on_change<'d>(diff: &'d Diff, finding: &Finding) -> Option<(&'d ChangedFile, Option<(usize, usize)>)> {
    let file = diff.file(&normalize_path(&finding.file)).filter(|f| f.exists_in_head())?;
    let location = finding.location.trim();
    if location.is_empty() {
        return matches!(file.status, Status::Added | Status::Modified).then_some((file, None));
    }
    let head = location.split_whitespace().next().unwrap_or("");
    let line: usize = head.split(':').next()?.parse().ok()?;
    file.is_added(line).then_some((file, Some((line, line))))
}

/// `text` on one line (a message may hold newlines).
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// FastAPI routes added outside the contract.
fn route_comments(workspace: &Path, diff: &Diff, contract: Option<&Result<Contract, String>>) -> Vec<Comment> {
    let mut out = Vec::new();
    for file in diff.files.iter().filter(|f| f.exists_in_head() && Language::of(&f.path) == Some(Language::Python)) {
        let head = read_optional(workspace, &file.path).ok().flatten();
        let head_lines: Vec<&str> = head.as_deref().map(|t| t.lines().collect()).unwrap_or_default();
        let mut added_routes = false;
        for added in &file.added {
            let index = added.line - 1;
            let same = head_lines.get(index).is_some_and(|l| l.trim_end_matches('\r') == added.text.trim_end_matches('\r'));
            let decorator = if same { routes::route_at(&head_lines, index) } else { routes::decorator(&added.text) };
            let Some(d) = decorator else { continue };
            let Some(path) = d.path else { continue };
            added_routes = true;
            let Some(Ok(contract)) = contract else { continue };
            let prefix = head.as_deref().and_then(|t| routes::router_prefix(t, &d.object)).unwrap_or_default();
            let full = routes::join(&prefix, &path);
            if !contract.declares(&d.method, &full, d.object == "app") {
                out.push(Comment::at(
                    &file.path,
                    added.line,
                    Kind::Architecture,
                    format!("`{} {full}` is not in the contract ({OPENAPI_FILE})", d.method),
                ));
            }
        }
        match contract {
            _ if !added_routes => {}
            None => out.push(Comment::whole(
                &file.path,
                Kind::Architecture,
                format!("routes added but the workspace has no {OPENAPI_FILE} to check them against"),
            )),
            Some(Err(e)) => out.push(Comment::whole(&file.path, Kind::Architecture, format!("routes added but {e}: not checked"))),
            Some(Ok(_)) => {}
        }
    }
    out
}

/// Is `path` a test: under `tests/`, or `test_*.py`, `*_test.py`, `conftest.py`?
pub fn is_test(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    path.starts_with("tests/")
        || path.contains("/tests/")
        || (name.starts_with("test_") && name.ends_with(".py"))
        || name.ends_with("_test.py")
        || name == "conftest.py"
}

/// Added lines of changed non-test Python files that no test ran.
fn coverage_comments(diff: &Diff, coverage: &Coverage) -> Vec<Comment> {
    let mut out = Vec::new();
    for file in &diff.files {
        if !file.exists_in_head() || Language::of(&file.path) != Some(Language::Python) || is_test(&file.path) || file.added.is_empty() {
            continue;
        }
        match coverage.file(&file.path) {
            Some(covered) => {
                for (a, b) in untested_ranges(file, covered) {
                    let text = if a == b {
                        format!("line {a} changed and not run by any test")
                    } else {
                        format!("lines {a}–{b} changed and not run by any test")
                    };
                    out.push(Comment { file: file.path.clone(), lines: Some((a, b)), kind: Kind::Coverage, text });
                }
            }
            None => {
                let code = file.added.iter().filter(|a| is_code(&a.text)).count();
                let text = match code {
                    0 => continue,
                    1 => "its changed line did not run: no test imports it".to_string(),
                    n => format!("none of its {n} changed lines ran: no test imports it"),
                };
                out.push(Comment::whole(&file.path, Kind::Coverage, text));
            }
        }
    }
    out
}

/// A line that is neither blank nor a comment.
fn is_code(text: &str) -> bool {
    let t = text.trim();
    !t.is_empty() && !t.starts_with('#')
}

/// Ranges of consecutive added lines holding missing lines: a missing line
/// opens or extends a range, an executed line or a line the change did not
/// add ends it, and a non-executable added line (blank, comment) between
/// missing ones does not. Each range runs from its first to its last missing
/// line.
pub fn untested_ranges(file: &ChangedFile, covered: &CoveredFile) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut open: Option<(usize, usize)> = None;
    let mut previous: Option<usize> = None;
    for line in file.added_lines() {
        if previous.is_some_and(|p| line != p + 1) {
            out.extend(open.take());
        }
        if covered.missing_lines.contains(&line) {
            open = Some(open.map_or((line, line), |(a, _)| (a, line)));
        } else if covered.executed_lines.contains(&line) {
            out.extend(open.take());
        }
        previous = Some(line);
    }
    out.extend(open);
    out
}

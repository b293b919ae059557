//! FastAPI routes: which operation a decorator line declares.
//!
//! `@app.get("/items/{id}")`, `@router.post('/x', status_code=201)` and
//! `@router.delete(path="/x")` declare `GET /items/{id}`, `POST /x` and
//! `DELETE /x` (methods: get, post, put, patch, delete, head, options). A
//! decorator whose arguments start on the next line (`@router.get(` then
//! `"/x",`) is read with [`route_at`]. A router's own prefix
//! (`router = APIRouter(prefix="/api/v1/projects")`) is found with
//! [`router_prefix`]; paths compare with [`same_path`], parameter names
//! ignored (`/items/{id}` is `/items/{item_id}`).

/// The methods a FastAPI app or router has a decorator for.
pub const METHODS: [&str; 7] = ["get", "post", "put", "patch", "delete", "head", "options"];

/// An operation: `POST /items/{id}/archive`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    /// Upper case: `POST`.
    pub method: String,
    /// As written (with the router's prefix when joined): `/items/{id}`.
    pub path: String,
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// A route decorator line: `@<object>.<method>(…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decorator {
    /// What the decorator is called on: `app`, `router`, `api.router`.
    pub object: String,
    /// Upper case: `GET`.
    pub method: String,
    /// The path argument; `None` when the arguments start on the next line.
    pub path: Option<String>,
}

/// The route one line declares, when its path is on the line too.
pub fn parse_route(line: &str) -> Option<Route> {
    let d = decorator(line)?;
    Some(Route { method: d.method, path: d.path? })
}

/// The route decorator on `line`. `None` for other lines and for
/// decorators whose path is no string literal (`@app.get(PATH)`): nothing
/// to check.
pub fn decorator(line: &str) -> Option<Decorator> {
    let rest = line.trim_start().strip_prefix('@')?;
    let callee_len = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.')).unwrap_or(rest.len());
    let (callee, after) = rest.split_at(callee_len);
    let args = after.trim_start().strip_prefix('(')?;
    let (object, method) = callee.rsplit_once('.')?;
    if object.is_empty() || object.split('.').any(str::is_empty) || !METHODS.contains(&method) {
        return None;
    }
    let args = args.trim();
    let path = if args.is_empty() || args.starts_with('#') { None } else { Some(path_argument(args)?) };
    Some(Decorator { object: object.to_string(), method: method.to_ascii_uppercase(), path })
}

/// The decorator at `lines[index]` with its path, read from the next lines
/// when the arguments start there (blank and comment lines skipped).
pub fn route_at(lines: &[&str], index: usize) -> Option<Decorator> {
    let mut d = decorator(lines.get(index)?)?;
    if d.path.is_none() {
        let next = lines.iter().skip(index + 1).take(4).map(|l| l.trim()).find(|l| !l.is_empty() && !l.starts_with('#'))?;
        d.path = Some(path_argument(next)?);
    }
    Some(d)
}

/// `"/x", …` or `path="/x"` → `/x`.
fn path_argument(args: &str) -> Option<String> {
    let args = match args.strip_prefix("path") {
        Some(rest) if rest.trim_start().starts_with('=') => rest.trim_start()[1..].trim_start(),
        _ => args,
    };
    python_string(args)
}

/// A Python string literal at the start of `s` (`'…'`, `"…"`, `r"…"`),
/// single-line and without escapes; f-strings and bytes are not paths.
fn python_string(s: &str) -> Option<String> {
    let s = s.strip_prefix(['r', 'R']).unwrap_or(s);
    let quote = s.chars().next().filter(|c| matches!(c, '\'' | '"'))?;
    let body = &s[1..];
    let end = body.find(quote)?;
    let value = &body[..end];
    (!value.contains('\\')).then(|| value.to_string())
}

/// The `prefix` of `object = APIRouter(prefix="…", …)` in `text` (a whole
/// module), if the module creates `object` so (the last part of a dotted
/// object is looked for: `api.router` → `router`).
pub fn router_prefix(text: &str, object: &str) -> Option<String> {
    let name = object.rsplit('.').next().unwrap_or(object);
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let Some(rest) = line.strip_prefix(name) else { continue };
        let rest = rest.trim_start();
        let rest = match rest.strip_prefix(':') {
            Some(annotated) => annotated.split_once('=').map_or("", |(_, v)| v),
            None => rest.strip_prefix('=').unwrap_or(""),
        }
        .trim_start();
        let Some(call) = ["APIRouter(", "fastapi.APIRouter("].iter().find_map(|c| rest.strip_prefix(c)) else { continue };
        let args_at = start + line.len() - call.len();
        let args = call_arguments_text(&text[args_at..]);
        return keyword_string(args, "prefix");
    }
    None
}

/// The text of a call's arguments up to its closing parenthesis (string
/// contents and nested brackets skipped).
fn call_arguments_text(from: &str) -> &str {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, c) in from.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' if depth == 0 => return &from[..i],
                ')' | ']' | '}' => depth -= 1,
                _ => {}
            },
        }
    }
    from
}

/// The string value of `key=` among call arguments, at the call's top level.
fn keyword_string(args: &str, key: &str) -> Option<String> {
    let mut from = 0;
    while let Some(found) = args[from..].find(key) {
        let at = from + found;
        from = at + key.len();
        let before = args[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(value) = args[from..].trim_start().strip_prefix('=') {
            return python_string(value.trim_start());
        }
    }
    None
}

/// `prefix` then `path`, as FastAPI joins them (`/api/v1/projects` + `` →
/// `/api/v1/projects`).
pub fn join(prefix: &str, path: &str) -> String {
    let joined = format!("{prefix}{path}");
    if joined.is_empty() { "/".to_string() } else { joined }
}

/// `path` for comparison: parameters as `{}`, no trailing `/` (but `/`).
pub fn normalize(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.trim().chars() {
        match c {
            '{' if !in_param => {
                in_param = true;
                out.push_str("{}");
            }
            '}' if in_param => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    let trimmed = out.trim_end_matches('/');
    if trimmed.is_empty() { "/".to_string() } else if trimmed.starts_with('/') { trimmed.to_string() } else { format!("/{trimmed}") }
}

/// Are `a` and `b` the same path, parameter names ignored?
pub fn same_path(a: &str, b: &str) -> bool {
    normalize(a) == normalize(b)
}

/// Does `full` end with `tail` at a segment boundary, parameter names
/// ignored (`/api/v1/items/{id}` ends with `/items/{item_id}`)? For a
/// router mounted under a prefix this file does not show.
pub fn ends_with_path(full: &str, tail: &str) -> bool {
    let (full, tail) = (normalize(full), normalize(tail));
    // `tail` starts with `/`, so a match ends at a segment boundary.
    tail == "/" || full.ends_with(&tail)
}

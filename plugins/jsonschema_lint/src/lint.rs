//! What `jsonschema_lint` does beside its `Input`, `Output` and `impl Tool` (in `lib.rs`).

use super::*;

impl From<validator::Error> for Violation {
    fn from(e: validator::Error) -> Self {
        Violation {
            pointer: e.pointer,
            schema_path: e.schema_path,
            message: e.message,
        }
    }
}

/// The schema's violations of the built-in meta-schema (an unknown `$schema`
/// is one), and the draft it names (2020-12 by default).
pub(crate) fn check_schema(meta: &Value, schema: &Value) -> (Vec<Violation>, Draft) {
    const META_URI: &str = "urn:taylordash:jsonschema-lint:meta";
    let mut meta_store = Store::default();
    meta_store.add(META_URI, meta.clone());
    let mut findings: Vec<Violation> = Validator::new(&meta_store, Formats::RegexOnly)
        .validate(meta, META_URI, schema)
        .into_iter()
        .map(Violation::from)
        .collect();
    let mut draft = Draft::default();
    if let Some(Value::String(uri)) = schema.get("$schema") {
        match validator::draft_of(uri) {
            Some(named) => draft = named,
            None => findings.push(Violation {
                pointer: "/$schema".to_string(),
                schema_path: String::new(),
                message: format!(
                    "unknown meta-schema `{uri}`: only drafts 4, 6, 7, 2019-09 and 2020-12 are \
                     built in, and nothing is fetched"
                ),
            }),
        }
    }
    (findings, draft)
}

/// Put the schema and every workspace file its `$ref`s reach into `store`;
/// references that lead nowhere are findings.
pub(crate) fn load_refs(store: &mut Store, root: &str, schema: &Value) -> Vec<Violation> {
    let mut findings = Vec::new();
    let mut pending = store.add(root, schema.clone());
    let mut sites = Vec::new();
    let mut failed = BTreeSet::new();
    while let Some(site) = pending.pop() {
        let uri = site
            .target
            .split('#')
            .next()
            .unwrap_or_default()
            .to_string();
        if !store.contains(&uri) && !failed.contains(&uri) {
            let loaded = match uri.strip_prefix(BASE) {
                Some(rel) => load("$ref", rel).map_err(|e| match e {
                    ToolError::InvalidInput(m) | ToolError::Failed(m) | ToolError::Retryable(m) => {
                        m
                    }
                }),
                None => Err("outside the workspace, and nothing is fetched".to_string()),
            };
            match loaded {
                Ok(doc) => pending.extend(store.add(&uri, doc)),
                Err(why) => {
                    failed.insert(uri.clone());
                    findings.push(ref_finding(root, &site, &why));
                }
            }
        }
        sites.push(site);
    }
    for site in &sites {
        let uri = site.target.split('#').next().unwrap_or_default();
        if failed.contains(uri) {
            continue;
        }
        if let Err(why) = store.lookup(&site.target) {
            findings.push(ref_finding(root, site, &why));
        }
    }
    findings
}

pub(crate) fn ref_finding(root: &str, site: &validator::RefSite, why: &str) -> Violation {
    let (pointer, place) = if site.resource == root {
        (site.pointer.clone(), String::new())
    } else {
        let file = site.resource.strip_prefix(BASE).unwrap_or(&site.resource);
        (String::new(), format!(" in `{file}` at {}", site.pointer))
    };
    Violation {
        pointer,
        schema_path: String::new(),
        message: format!("cannot resolve `{}`{place}: {why}", site.reference),
    }
}

/// Sorted by pointer (indices numerically), schema path, message; no repeats.
pub(crate) fn sorted(mut violations: Vec<Violation>) -> Vec<Violation> {
    violations.sort_by(|a, b| {
        pointer_key(&a.pointer)
            .cmp(&pointer_key(&b.pointer))
            .then_with(|| a.schema_path.cmp(&b.schema_path))
            .then_with(|| a.message.cmp(&b.message))
    });
    violations.dedup();
    violations
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Segment {
    Index(u64),
    Key(String),
}

pub(crate) fn pointer_key(pointer: &str) -> Vec<Segment> {
    pointer
        .split('/')
        .skip(1)
        .map(|s| match s.parse::<u64>() {
            Ok(n) if !s.starts_with('+') => Segment::Index(n),
            _ => Segment::Key(s.replace("~1", "/").replace("~0", "~")),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Files

/// Read and parse a workspace file; errors name `key` or the path (with line
/// and column for parse errors).
pub(crate) fn load(key: &str, path: &str) -> Result<Value, ToolError> {
    let rel = Path::new(path);
    let inside = !path.is_empty()
        && rel
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if !inside {
        return Err(ToolError::InvalidInput(format!(
            "{key}: `{path}` must be a relative path inside the workspace"
        )));
    }
    let ext = rel
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let yaml = match ext.as_deref() {
        Some("json") => false,
        Some("yaml" | "yml") => true,
        _ => {
            return Err(ToolError::InvalidInput(format!(
                "{key}: `{path}` is neither .json nor .yaml/.yml"
            )));
        }
    };
    let text = std::fs::read_to_string(taylordash_sdk::workspace_dir().join(rel)).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file in the workspace".to_string(),
            std::io::ErrorKind::InvalidData => "not UTF-8 text".to_string(),
            _ => e.to_string(),
        };
        ToolError::InvalidInput(format!("{key}: cannot read `{path}`: {why}"))
    })?;
    if yaml {
        serde_yaml_ng::from_str(&text).map_err(|e| match e.location() {
            Some(loc) => {
                let (line, column) = (loc.line(), loc.column());
                let message = strip_location(&e.to_string(), line, column);
                ToolError::InvalidInput(format!("{path}:{line}:{column}: {message}"))
            }
            None => ToolError::InvalidInput(format!("{path}: {e}")),
        })
    } else {
        serde_json::from_str(&text).map_err(|e| {
            let (line, column) = (e.line(), e.column());
            let message = strip_location(&e.to_string(), line, column);
            ToolError::InvalidInput(format!("{path}:{line}:{column}: {message}"))
        })
    }
}

/// Drop ` at line L column C` from a parser message: the location goes in front.
pub(crate) fn strip_location(message: &str, line: usize, column: usize) -> String {
    message.replacen(&format!(" at line {line} column {column}"), "", 1)
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

// ---------------------------------------------------------------------------

//! What `planner` does beside its `Input`, `Output` and `impl Tool` (in `lib.rs`).

use super::*;

// ---------------------------------------------------------------------------
// Loading inputs: inline objects or workspace files, JSON or YAML

#[derive(Debug, Clone, Copy)]
pub(crate) enum Format {
    Json,
    Yaml,
}

pub(crate) fn format_of(path: &str) -> Option<Format> {
    let ext = Path::new(path).extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "json" => Some(Format::Json),
        "yaml" | "yml" => Some(Format::Yaml),
        _ => None,
    }
}

/// Load input `key`: an inline object, a workspace-relative file, or (when
/// `list_field` is not empty) a bare list, read as `{ list_field: list }`.
/// Returns the value and the name error messages use for it (the path, or
/// the key).
pub(crate) fn load<T: DeserializeOwned>(key: &str, list_field: &str, source: &Value) -> Result<(T, String), ToolError> {
    if let (Value::Array(list), false) = (source, list_field.is_empty()) {
        let wrapped = Value::Object([(list_field.to_string(), Value::Array(list.clone()))].into_iter().collect());
        return load(key, "", &wrapped);
    }
    match source {
        Value::String(path) => {
            let format = format_of(path).ok_or_else(|| {
                ToolError::InvalidInput(format!("{key}: `{path}` is neither .json nor .yaml/.yml"))
            })?;
            let text = read_workspace(key, path)?;
            Ok((decode_text(path, format, &text)?, path.clone()))
        }
        Value::Object(_) => {
            let parsed = serde_path_to_error::deserialize(source.clone()).map_err(|e| {
                ToolError::InvalidInput(with_path(
                    key,
                    &e.path().to_string(),
                    &e.inner().to_string(),
                ))
            })?;
            Ok((parsed, key.to_string()))
        }
        other if list_field.is_empty() => Err(ToolError::InvalidInput(format!(
            "{key}: expected a workspace-relative file path or an inline object, got {}",
            kind(other)
        ))),
        other => Err(ToolError::InvalidInput(format!(
            "{key}: expected a workspace-relative file path, an inline object or a list of {list_field}, got {}",
            kind(other)
        ))),
    }
}

pub(crate) fn read_workspace(key: &str, path: &str) -> Result<String, ToolError> {
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
    std::fs::read_to_string(taylordash_sdk::workspace_dir().join(rel)).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file in the workspace".to_string(),
            std::io::ErrorKind::InvalidData => "not UTF-8 text".to_string(),
            _ => e.to_string(),
        };
        ToolError::InvalidInput(format!("{key}: cannot read `{path}`: {why}"))
    })
}

pub(crate) fn decode_text<T: DeserializeOwned>(
    name: &str,
    format: Format,
    text: &str,
) -> Result<T, ToolError> {
    match format {
        Format::Json => {
            let mut de = serde_json::Deserializer::from_str(text);
            let parsed = serde_path_to_error::deserialize(&mut de).map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                let (line, column) = (inner.line(), inner.column());
                let message = strip_location(&inner.to_string(), line, column);
                ToolError::InvalidInput(with_path(
                    &format!("{name}:{line}:{column}"),
                    &path,
                    &message,
                ))
            })?;
            de.end().map_err(|e| {
                ToolError::InvalidInput(format!(
                    "{name}:{}:{}: trailing characters after the document",
                    e.line(),
                    e.column()
                ))
            })?;
            Ok(parsed)
        }
        Format::Yaml => serde_yaml_ng::from_str(text).map_err(|e| match e.location() {
            Some(loc) => {
                let (line, column) = (loc.line(), loc.column());
                let message = strip_location(&e.to_string(), line, column);
                ToolError::InvalidInput(format!("{name}:{line}:{column}: {message}"))
            }
            None => ToolError::InvalidInput(format!("{name}: {e}")),
        }),
    }
}

pub(crate) fn with_path(prefix: &str, path: &str, message: &str) -> String {
    if path == "." || path.is_empty() {
        format!("{prefix}: {message}")
    } else {
        format!("{prefix}: {path}: {message}")
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

pub(crate) fn write_out(name: &str, contents: &str) -> Result<(), ToolError> {
    std::fs::write(taylordash_sdk::out_dir().join(name), contents)
        .map_err(|e| ToolError::Failed(format!("cannot write {name} into the out dir: {e}")))
}

// ---------------------------------------------------------------------------
// Raw file shapes (lenient: validation below names the offending field)

#[derive(Deserialize)]
pub(crate) struct RawBacklog {
    pub(crate) items: Vec<RawItem>,
}

#[derive(Deserialize)]
pub(crate) struct RawItem {
    pub(crate) id: Option<String>,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) priority: Option<Value>,
    pub(crate) resource: Option<String>,
    pub(crate) acceptance: Option<Vec<String>>,
    pub(crate) depends_on: Option<Vec<String>>,
}

#[derive(Deserialize)]
pub(crate) struct RawFailures {
    pub(crate) failures: Vec<RawFailure>,
}

#[derive(Deserialize)]
pub(crate) struct RawFailure {
    pub(crate) check: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) item: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct RawSnapshot {
    pub(crate) files: Option<Vec<String>>,
    pub(crate) services: Option<Vec<Value>>,
}

// ---------------------------------------------------------------------------
// Validation

#[derive(Debug)]
pub(crate) struct Item {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) description: Option<String>,
    /// Lower runs first: high = 1, medium = 2, low = 3, or the integer given.
    pub(crate) rank: u64,
    pub(crate) priority: String,
    pub(crate) resource: Option<String>,
    pub(crate) acceptance: Vec<String>,
    /// Indices into the item list, deduplicated, in the order given.
    pub(crate) deps: Vec<usize>,
}

#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) check: String,
    pub(crate) message: String,
    pub(crate) item: Option<usize>,
}

pub(crate) fn required(name: &str, field: &str, value: Option<String>) -> Result<String, ToolError> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(v),
        Some(_) => Err(ToolError::InvalidInput(format!("{name}: {field} is empty"))),
        None => Err(ToolError::InvalidInput(format!(
            "{name}: {field} is missing"
        ))),
    }
}

pub(crate) fn optional(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

pub(crate) fn parse_priority(
    name: &str,
    field: &str,
    value: Option<Value>,
) -> Result<(u64, String), ToolError> {
    let bad = |got: &Value| {
        ToolError::InvalidInput(format!(
            "{name}: {field} must be high, medium, low or a non-negative integer, got {got}"
        ))
    };
    match value {
        None | Some(Value::Null) => Ok((2, "medium".to_string())),
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "high" => Ok((1, "high".to_string())),
            "medium" => Ok((2, "medium".to_string())),
            "low" => Ok((3, "low".to_string())),
            _ => Err(bad(&Value::String(s))),
        },
        Some(Value::Number(n)) => match n.as_u64() {
            Some(rank) => Ok((rank, rank.to_string())),
            None => Err(bad(&Value::Number(n))),
        },
        Some(other) => Err(bad(&other)),
    }
}

pub(crate) fn validate_items(name: &str, raw: Vec<RawItem>) -> Result<Vec<Item>, ToolError> {
    let mut index_of: BTreeMap<String, usize> = BTreeMap::new();
    let mut items = Vec::with_capacity(raw.len());
    let mut raw_deps = Vec::with_capacity(raw.len());
    for (i, r) in raw.into_iter().enumerate() {
        let id = required(name, &format!("items[{i}].id"), r.id)?;
        let title = required(name, &format!("items[{i}].title"), r.title)?;
        if let Some(first) = index_of.get(&id) {
            return Err(ToolError::InvalidInput(format!(
                "{name}: items[{i}].id `{id}` duplicates items[{first}].id"
            )));
        }
        index_of.insert(id.clone(), i);
        let (rank, priority) = parse_priority(name, &format!("items[{i}].priority"), r.priority)?;
        let mut acceptance = Vec::new();
        for (j, a) in r.acceptance.unwrap_or_default().into_iter().enumerate() {
            acceptance.push(required(
                name,
                &format!("items[{i}].acceptance[{j}]"),
                Some(a),
            )?);
        }
        raw_deps.push(r.depends_on.unwrap_or_default());
        items.push(Item {
            id,
            title,
            description: optional(r.description),
            rank,
            priority,
            resource: optional(r.resource),
            acceptance,
            deps: Vec::new(),
        });
    }
    for (i, deps) in raw_deps.into_iter().enumerate() {
        for (j, dep) in deps.into_iter().enumerate() {
            let Some(&d) = index_of.get(&dep) else {
                return Err(ToolError::InvalidInput(format!(
                    "{name}: items[{i}].depends_on[{j}]: unknown item `{dep}`"
                )));
            };
            if !items[i].deps.contains(&d) {
                items[i].deps.push(d);
            }
        }
    }
    Ok(items)
}

pub(crate) fn validate_failures(
    name: &str,
    raw: Vec<RawFailure>,
    items: &[Item],
) -> Result<Vec<Failure>, ToolError> {
    let mut out = Vec::with_capacity(raw.len());
    for (i, r) in raw.into_iter().enumerate() {
        let check = required(name, &format!("failures[{i}].check"), r.check)?;
        let message = required(name, &format!("failures[{i}].message"), r.message)?;
        let item = match optional(r.item) {
            None => None,
            Some(id) => match items.iter().position(|it| it.id == id) {
                Some(idx) => Some(idx),
                None => {
                    return Err(ToolError::InvalidInput(format!(
                        "{name}: failures[{i}].item: unknown backlog item `{id}`"
                    )));
                }
            },
        };
        out.push(Failure {
            check,
            message,
            item,
        });
    }
    Ok(out)
}

#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    /// (normalised key, the snapshot entry it came from), files then services.
    pub(crate) keys: Vec<(String, String)>,
}

impl Snapshot {
    pub(crate) fn from_raw(name: &str, raw: RawSnapshot) -> Result<Snapshot, ToolError> {
        let mut keys = Vec::new();
        for file in raw.files.unwrap_or_default() {
            let path = Path::new(&file);
            for component in path.components() {
                if let Component::Normal(part) = component {
                    let part = part.to_string_lossy();
                    let stem = match part.split_once('.') {
                        Some((stem, _)) => stem,
                        None => &part,
                    };
                    keys.push((normalise(stem), file.clone()));
                }
            }
        }
        for (i, service) in raw.services.unwrap_or_default().into_iter().enumerate() {
            let service_name = match &service {
                Value::String(s) => s.clone(),
                Value::Object(map) => match map.get("name") {
                    Some(Value::String(s)) => s.clone(),
                    _ => {
                        return Err(ToolError::InvalidInput(format!(
                            "{name}: services[{i}].name is missing"
                        )));
                    }
                },
                other => {
                    return Err(ToolError::InvalidInput(format!(
                        "{name}: services[{i}] must be a name or an object with a `name`, got {}",
                        kind(other)
                    )));
                }
            };
            keys.push((normalise(&service_name), format!("service {service_name}")));
        }
        Ok(Snapshot { keys })
    }

    /// The first snapshot entry providing `resource`.
    pub(crate) fn find(&self, resource: &str) -> Option<&str> {
        let key = normalise(resource);
        self.keys
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, entry)| entry.as_str())
    }
}

/// Lower case, `-`/space as `_`, a trailing plural `s` dropped: `Projects`,
/// `project` and `projects.py` all name the same resource.
pub(crate) fn normalise(s: &str) -> String {
    let mut out: String = s
        .trim()
        .chars()
        .map(|c| {
            if c == '-' || c == ' ' {
                '_'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    if out.len() > 3 && out.ends_with('s') && !out.ends_with("ss") {
        out.pop();
    }
    out
}

// ---------------------------------------------------------------------------
// Scheduling

/// Topological order of item indices. Among ready items: those a failure names
/// or that one of those depends on first, then lower rank, then backlog order.
pub(crate) fn schedule(name: &str, items: &[Item], failures: &[Failure]) -> Result<Vec<usize>, ToolError> {
    let n = items.len();
    let mut urgent = vec![false; n];
    let mut stack: Vec<usize> = failures.iter().filter_map(|f| f.item).collect();
    while let Some(i) = stack.pop() {
        if !urgent[i] {
            urgent[i] = true;
            stack.extend(items[i].deps.iter().copied());
        }
    }

    let mut done = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        let next = (0..n)
            .filter(|&i| !done[i] && items[i].deps.iter().all(|&d| done[d]))
            .min_by_key(|&i| (!urgent[i], items[i].rank, i));
        match next {
            Some(i) => {
                done[i] = true;
                order.push(i);
            }
            None => return Err(cycle_error(name, items, &done)),
        }
    }
    Ok(order)
}

/// Every unscheduled item has an unscheduled dependency, so following the
/// first one from the first unscheduled item must come back round.
pub(crate) fn cycle_error(name: &str, items: &[Item], done: &[bool]) -> ToolError {
    let mut path: Vec<usize> = Vec::new();
    let mut at = (0..items.len()).find(|&i| !done[i]).unwrap_or(0);
    loop {
        if let Some(pos) = path.iter().position(|&p| p == at) {
            let mut cycle = path[pos..].to_vec();
            // Start at the member listed first in the backlog.
            let start = cycle
                .iter()
                .enumerate()
                .min_by_key(|&(_, &i)| i)
                .map(|(k, _)| k)
                .unwrap_or(0);
            cycle.rotate_left(start);
            let mut names: Vec<&str> = cycle.iter().map(|&i| items[i].id.as_str()).collect();
            names.push(items[cycle[0]].id.as_str());
            return ToolError::InvalidInput(format!(
                "{name}: dependency cycle {} (each item depends on the next)",
                names.join(" -> ")
            ));
        }
        path.push(at);
        match items[at].deps.iter().copied().find(|&d| !done[d]) {
            Some(d) => at = d,
            None => {
                return ToolError::Failed(format!(
                    "{name}: cannot order the backlog (internal error at `{}`)",
                    items[at].id
                ));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The plan

pub(crate) fn build_plan(
    items: &[Item],
    order: &[usize],
    failures: &[Failure],
    snapshot: &Snapshot,
) -> PlannerOutput {
    // For each item, the failed items that (transitively) need it.
    let mut needed_by: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); items.len()];
    for f in failures {
        if let Some(failed) = f.item {
            let mut stack = items[failed].deps.clone();
            while let Some(d) = stack.pop() {
                if needed_by[d].insert(failed) {
                    stack.extend(items[d].deps.iter().copied());
                }
            }
        }
    }

    let mut tasks = Vec::with_capacity(order.len());
    let mut criteria = Vec::with_capacity(order.len() + 1);
    for (pos, &i) in order.iter().enumerate() {
        let item = &items[i];
        let fix_first: Vec<FixFirst> = failures
            .iter()
            .filter(|f| f.item == Some(i))
            .map(|f| FixFirst {
                check: f.check.clone(),
                message: f.message.clone(),
            })
            .collect();
        let in_snapshot = item.resource.as_deref().and_then(|r| snapshot.find(r));

        let (action, mut reason) = if !fix_first.is_empty() {
            let what: Vec<String> = fix_first
                .iter()
                .map(|f| format!("check `{}` failed: {}", f.check, f.message))
                .collect();
            (Action::Fix, format!("fix first: {}", what.join("; ")))
        } else if let (Some(resource), Some(entry)) = (&item.resource, in_snapshot) {
            (
                Action::Extend,
                format!("`{resource}` already exists ({entry})"),
            )
        } else if let Some(resource) = &item.resource {
            (
                Action::Create,
                format!("`{resource}` is not in the snapshot"),
            )
        } else {
            (Action::Create, "new work (no resource named)".to_string())
        };
        if !needed_by[i].is_empty() && action != Action::Fix {
            let fixes: Vec<String> = needed_by[i]
                .iter()
                .map(|&f| format!("`{}`", items[f].id))
                .collect();
            reason = format!("needed by the fix of {}; {reason}", fixes.join(", "));
        }
        reason.push_str(&format!("; priority {}", item.priority));

        tasks.push(Task {
            order: u32::try_from(pos + 1).unwrap_or(u32::MAX),
            id: item.id.clone(),
            title: item.title.clone(),
            action,
            depends_on: item.deps.iter().map(|&d| items[d].id.clone()).collect(),
            reason,
            resource: item.resource.clone(),
            fix_first: fix_first.clone(),
        });

        let mut list = if item.acceptance.is_empty() {
            generated_criteria(item, action)
        } else {
            item.acceptance.clone()
        };
        list.extend(fix_first.iter().map(|f| check_passes(&f.check)));
        criteria.push(ItemCriteria {
            item: Some(item.id.clone()),
            criteria: dedup(list),
        });
    }

    let session: Vec<String> = failures
        .iter()
        .filter(|f| f.item.is_none())
        .map(|f| check_passes(&f.check))
        .collect();
    if !session.is_empty() {
        criteria.push(ItemCriteria {
            item: None,
            criteria: dedup(session),
        });
    }

    PlannerOutput {
        session_plan: SessionPlan { tasks },
        acceptance_criteria: criteria,
        files: vec![
            SESSION_PLAN_MD.to_string(),
            ACCEPTANCE_MD.to_string(),
            SESSION_PLAN_JSON.to_string(),
        ],
    }
}

pub(crate) fn check_passes(check: &str) -> String {
    format!("check `{check}` passes")
}

pub(crate) fn dedup(list: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    list.into_iter()
        .filter(|c| seen.insert(c.clone()))
        .collect()
}

/// Criteria for an item that gives none: one per CRUD operation for CRUD
/// items, one per recognised concern (events, metrics, endpoints), then one
/// for the resource and one for its tests.
pub(crate) fn generated_criteria(item: &Item, action: Action) -> Vec<String> {
    let subject = item.resource.as_deref().unwrap_or(&item.id);
    let text = format!(
        "{} {} {}",
        item.id,
        item.title,
        item.description.as_deref().unwrap_or("")
    )
    .to_ascii_lowercase();
    let words: BTreeSet<&str> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let has = |ws: &[&str]| ws.iter().any(|w| words.contains(w));

    let mut out = Vec::new();
    if has(&["crud"]) {
        out.push(format!(
            "create: a new `{subject}` can be created and is returned with its id"
        ));
        out.push(format!(
            "read: an existing `{subject}` can be fetched by id and appears in the list"
        ));
        out.push(format!(
            "update: changes to an existing `{subject}` are saved and returned"
        ));
        out.push(format!(
            "delete: a deleted `{subject}` is no longer returned"
        ));
    }
    if has(&["mqtt", "publish", "publishes", "event", "events"]) {
        out.push(format!(
            "each `{subject}` event is published to its MQTT topic and a subscriber receives it"
        ));
    }
    if has(&["metric", "metrics", "prometheus"]) {
        out.push(format!(
            "`{subject}` metrics are exported and can be scraped"
        ));
    }
    if has(&["endpoint", "endpoints", "api", "route", "routes"]) && !has(&["crud"]) {
        out.push(format!(
            "the `{subject}` endpoint answers a valid request with 2xx and an invalid one with 4xx"
        ));
    }
    if out.is_empty() {
        out.push(format!("{} is done as described", item.title));
    }
    match action {
        Action::Extend => out.push(format!("existing `{subject}` behaviour keeps working")),
        Action::Create if item.resource.is_some() => {
            out.push(format!("`{subject}` exists in the workspace"))
        }
        _ => {}
    }
    out.push(format!("tests covering `{subject}` pass"));
    out
}

// ---------------------------------------------------------------------------
// Markdown

pub(crate) fn render_plan_md(output: &PlannerOutput) -> String {
    let tasks = &output.session_plan.tasks;
    let count = |a: Action| tasks.iter().filter(|t| t.action == a).count();
    let mut md = String::from("# Session plan\n\n");
    let _ = writeln!(
        md,
        "{} tasks: {} fix, {} extend, {} create.\n",
        tasks.len(),
        count(Action::Fix),
        count(Action::Extend),
        count(Action::Create)
    );
    for task in tasks {
        let _ = writeln!(md, "## {}. {} (`{}`)\n", task.order, task.title, task.id);
        let _ = writeln!(md, "- action: {}", task.action.as_str());
        if let Some(resource) = &task.resource {
            let _ = writeln!(md, "- resource: `{resource}`");
        }
        if task.depends_on.is_empty() {
            md.push_str("- depends on: nothing\n");
        } else {
            let deps: Vec<String> = task.depends_on.iter().map(|d| format!("`{d}`")).collect();
            let _ = writeln!(md, "- depends on: {}", deps.join(", "));
        }
        let _ = writeln!(md, "- reason: {}", task.reason);
        if !task.fix_first.is_empty() {
            md.push_str("- fix first:\n");
            for f in &task.fix_first {
                let _ = writeln!(md, "  - check `{}`: {}", f.check, f.message);
            }
        }
        md.push('\n');
    }
    md
}

pub(crate) fn render_criteria_md(output: &PlannerOutput, items: &[Item]) -> String {
    let mut md = String::from("# Acceptance criteria\n\n");
    for group in &output.acceptance_criteria {
        match &group.item {
            Some(id) => {
                let title = items
                    .iter()
                    .find(|it| &it.id == id)
                    .map(|it| it.title.as_str());
                let _ = writeln!(md, "## `{id}`: {}\n", title.unwrap_or(""));
            }
            None => md.push_str("## Whole session\n\n"),
        }
        for c in &group.criteria {
            let _ = writeln!(md, "- [ ] {c}");
        }
        md.push('\n');
    }
    md
}

// ---------------------------------------------------------------------------

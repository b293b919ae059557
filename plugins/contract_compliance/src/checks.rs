//! What `contract_compliance` does beside its `Input`, `Output` and `impl Tool` (in `lib.rs`).

use super::*;

pub(crate) const OAS_SCHEMA: &str = include_str!("oas-3.1-schema.json");
pub(crate) const OAS_URI: &str = "https://spec.openapis.org/oas/3.1/schema/2022-10-07";
pub(crate) const BASE: &str = "file:///workspace/";
pub(crate) const META_URI: &str = "urn:taylordash:contract-compliance:meta";
pub(crate) const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// A parsed event schema: path, the schema, its locations.
pub struct EventSchema {
    pub path: String,
    pub schema: Value,
}

pub(crate) struct Checker {
    pub(crate) meta: Value,
    pub(crate) findings: Vec<Finding>,
    pub(crate) checked: Vec<String>,
    pub(crate) examples_checked: usize,
}

pub(crate) fn ptr(parts: &[&str]) -> String {
    parts.iter().map(|p| format!("/{}", locate::escape(p))).collect()
}

/// Read and parse a workspace JSON/YAML file; a problem is a finding.
pub(crate) fn parse_file(path: &str, findings: &mut Vec<Finding>) -> Option<(Value, Locations)> {
    let text = match source::read_workspace("file", path) {
        Ok(t) => t,
        Err(e) => {
            let m = match e {
                ToolError::InvalidInput(m) | ToolError::Failed(m) | ToolError::Retryable(m) => m,
            };
            findings.push(Finding::new(path, "", m.trim_start_matches("file: ").to_string()));
            return None;
        }
    };
    let format = source::format_of(path).unwrap_or(source::Format::Json);
    match source::decode::<Value>(path, format, &text) {
        Ok(v) => Some((v, locate::index(&text))),
        Err(m) => {
            // `path:line:col: message` → location and message apart.
            let rest = m.strip_prefix(&format!("{path}:")).unwrap_or(&m);
            let mut parts = rest.splitn(3, ':');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(l), Some(c), Some(msg)) if l.parse::<usize>().is_ok() && c.parse::<usize>().is_ok() => {
                    findings.push(Finding::new(path, format!("{l}:{c}"), format!("does not parse: {}", msg.trim())));
                }
                _ => findings.push(Finding::new(path, "", format!("does not parse: {m}"))),
            }
            None
        }
    }
}

impl Checker {
    pub(crate) fn new() -> Result<Checker, ToolError> {
        let meta: Value = serde_json::from_str(validator::META_SCHEMA)
            .map_err(|e| ToolError::Failed(format!("the built-in meta-schema does not parse: {e}")))?;
        Ok(Checker { meta, findings: Vec::new(), checked: Vec::new(), examples_checked: 0 })
    }

    pub(crate) fn add(&mut self, file: &str, loc: &Locations, pointer: &str, message: String) {
        self.findings.push(Finding::new(file, loc.describe(pointer), message));
    }

    /// Meta-schema violations of `schema` (pointers relative to it).
    pub(crate) fn schema_problems(&self, schema: &Value) -> Vec<(String, String)> {
        let mut store = Store::default();
        store.add(META_URI, self.meta.clone());
        let mut out: Vec<(String, String)> = Validator::new(&store, Formats::RegexOnly)
            .validate(&self.meta, META_URI, schema)
            .into_iter()
            .map(|e| (e.pointer, e.message))
            .collect();
        if let Some(Value::String(uri)) = schema.get("$schema")
            && validator::draft_of(uri).is_none()
        {
            out.push(("/$schema".into(), format!("unknown meta-schema `{uri}` (drafts 4 to 2020-12 are known)")));
        }
        out
    }

    // -- 1. openapi.yaml ------------------------------------------------------

    pub(crate) fn openapi(&mut self) -> Option<(Value, Locations)> {
        let file = paths::OPENAPI;
        if !source::exists(file) {
            self.findings.push(Finding::new(file, "", "missing: the API contract (openapi_gen writes it)"));
            return None;
        }
        self.checked.push(file.to_string());
        let (doc, loc) = parse_file(file, &mut self.findings)?;
        let oas: Value = match serde_json::from_str(OAS_SCHEMA) {
            Ok(v) => v,
            Err(e) => {
                self.findings.push(Finding::new(file, "", format!("the built-in OpenAPI 3.1 schema does not parse: {e}")));
                return Some((doc, loc));
            }
        };
        let mut store = Store::new(&self.meta, validator::Draft::Draft2020);
        store.add(OAS_URI, oas.clone());
        let errors = Validator::new(&store, Formats::None).validate(&oas, OAS_URI, &doc);
        for e in errors {
            let at = if e.pointer.is_empty() { "/" } else { e.pointer.as_str() };
            self.add(file, &loc, &e.pointer, format!("OpenAPI 3.1: {at}: {}", e.message));
        }
        if !doc.is_object() {
            return Some((doc, loc));
        }
        self.openapi_semantics(&doc, &loc);
        Some((doc, loc))
    }

    pub(crate) fn openapi_semantics(&mut self, doc: &Value, loc: &Locations) {
        let file = paths::OPENAPI;
        let doc_uri = format!("{BASE}{file}");
        let mut store = Store::new(&self.meta, validator::Draft::Draft2020);
        store.add(&doc_uri, doc.clone());
        let mut refs = Vec::new();
        all_refs(doc, "", &mut refs);
        for (at, reference) in refs {
            if let Err(why) = store.lookup(&validator::resolve(&doc_uri, &reference)) {
                self.add(file, loc, &at, format!("{at}: `$ref` `{reference}` does not resolve: {why}"));
            }
        }
        let schemes: Vec<String> = doc
            .pointer("/components/securitySchemes")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let check_security = |this: &mut Checker, reqs: &Value, at: &str| {
            for (i, req) in reqs.as_array().map(Vec::as_slice).unwrap_or(&[]).iter().enumerate() {
                for name in req.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default() {
                    if !schemes.contains(&name) {
                        let p = format!("{at}/{i}/{}", locate::escape(&name));
                        this.add(file, loc, &p, format!("{p}: security scheme `{name}` is not declared in components.securitySchemes"));
                    }
                }
            }
        };
        if let Some(reqs) = doc.get("security") {
            check_security(self, reqs, "/security");
        }
        if let Some(schemas) = doc.pointer("/components/schemas").and_then(Value::as_object) {
            for (name, schema) in schemas {
                let base = ptr(&["components", "schemas", name]);
                for (p, m) in self.schema_problems(schema) {
                    let at = format!("{base}{p}");
                    self.add(file, loc, &at, format!("components.schemas.{name} is not a valid JSON Schema: {at}: {m}"));
                }
            }
        }
        let mut op_ids: BTreeMap<String, String> = BTreeMap::new();
        let Some(paths_obj) = doc.get("paths").and_then(Value::as_object) else { return };
        let validator = Validator::new(&store, Formats::All);
        for (path, item) in paths_obj {
            let Some(item) = item.as_object() else { continue };
            let item_ptr = ptr(&["paths", path]);
            let declared = |params: Option<&Value>| -> Vec<(String, bool)> {
                params
                    .and_then(Value::as_array)
                    .map(|list| {
                        list.iter()
                            .filter(|p| p.get("in").and_then(Value::as_str) == Some("path"))
                            .filter_map(|p| {
                                Some((p.get("name")?.as_str()?.to_string(), p.get("required").and_then(Value::as_bool).unwrap_or(false)))
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let templated = service_model::model::placeholders(path);
            let path_level = declared(item.get("parameters"));
            for (method, op) in item {
                if !METHODS.contains(&method.as_str()) {
                    continue;
                }
                let op_ptr = format!("{item_ptr}/{method}");
                let label = format!("{} {path}", method.to_ascii_uppercase());
                match op.get("operationId").and_then(Value::as_str) {
                    Some(id) => {
                        if let Some(first) = op_ids.insert(id.to_string(), label.clone()) {
                            self.add(file, loc, &format!("{op_ptr}/operationId"), format!("{label}: operationId `{id}` is also used by {first}"));
                        }
                    }
                    None => self.add(file, loc, &op_ptr, format!("{label}: no operationId")),
                }
                let mut params = path_level.clone();
                for (n, r) in declared(op.get("parameters")) {
                    params.retain(|(x, _)| *x != n);
                    params.push((n, r));
                }
                for t in &templated {
                    match params.iter().find(|(n, _)| n == t) {
                        None => self.add(file, loc, &op_ptr, format!("{label}: path parameter `{t}` is not declared `in: path`")),
                        Some((_, false)) => self.add(file, loc, &op_ptr, format!("{label}: path parameter `{t}` must be `required: true`")),
                        _ => {}
                    }
                }
                for (n, _) in &params {
                    if !templated.contains(n) {
                        self.add(file, loc, &op_ptr, format!("{label}: parameter `{n}` is `in: path` but the path has no `{{{n}}}`"));
                    }
                }
                if let Some(responses) = op.get("responses").and_then(Value::as_object)
                    && !responses.keys().any(|k| k.starts_with('2') || k == "default")
                {
                    self.add(file, loc, &format!("{op_ptr}/responses"), format!("{label}: no 2xx response"));
                }
                if let Some(reqs) = op.get("security") {
                    check_security(self, reqs, &format!("{op_ptr}/security"));
                }
                // Examples against their schemas.
                let mut contents: Vec<(String, &Value)> = Vec::new();
                if let Some(c) = op.pointer("/requestBody/content").and_then(Value::as_object) {
                    for (mt, media) in c {
                        contents.push((format!("{op_ptr}/requestBody/content/{}", locate::escape(mt)), media));
                    }
                }
                if let Some(rs) = op.get("responses").and_then(Value::as_object) {
                    for (code, r) in rs {
                        if let Some(c) = r.get("content").and_then(Value::as_object) {
                            for (mt, media) in c {
                                contents.push((format!("{op_ptr}/responses/{code}/content/{}", locate::escape(mt)), media));
                            }
                        }
                    }
                }
                for (at, media) in contents {
                    let (Some(schema), Some(example)) = (media.get("schema"), media.get("example")) else { continue };
                    for e in validator.validate(schema, &doc_uri, example) {
                        let p = format!("{at}/example{}", e.pointer);
                        self.add(file, loc, &p, format!("{label}: the example does not match its schema: {p}: {}", e.message));
                    }
                }
            }
        }
    }

    // -- 2. event schemas -------------------------------------------------------

    pub(crate) fn event_schemas(&mut self) -> Vec<EventSchema> {
        let mut files = source::list_files(paths::EVENT_SCHEMAS, &[".schema.json"]);
        files.retain(|f| f.matches('/').count() == 2);
        files.extend(source::list_files("contracts", &[".schema.json", ".schema.yaml", ".schema.yml"]));
        let mut out = Vec::new();
        for f in files {
            self.checked.push(f.clone());
            let Some((schema, loc)) = parse_file(&f, &mut self.findings) else { continue };
            let problems = self.schema_problems(&schema);
            if problems.is_empty() {
                out.push(EventSchema { path: f, schema });
            } else {
                for (p, m) in problems {
                    self.add(&f, &loc, &p, format!("not a valid JSON Schema: {}: {m}", if p.is_empty() { "/" } else { &p }));
                }
            }
        }
        out
    }

    // -- 3. event examples ------------------------------------------------------

    pub(crate) fn examples(&mut self, schemas: &[EventSchema]) {
        let mut files = source::list_files("events", &[".json", ".yaml", ".yml"]);
        files.extend(source::list_files(paths::EVENT_EXAMPLES, &[".json", ".yaml", ".yml"]));
        // Each schema in its own store, with its file's URI as base.
        let stores: Vec<(String, Store)> = schemas
            .iter()
            .map(|s| {
                let uri = format!("{BASE}{}", s.path);
                let mut store = Store::new(&self.meta, validator::Draft::Draft2020);
                store.add(&uri, s.schema.clone());
                (uri, store)
            })
            .collect();
        for f in files {
            self.checked.push(f.clone());
            self.examples_checked += 1;
            let Some((event, loc)) = parse_file(&f, &mut self.findings) else { continue };
            let Some(t) = event.get("type").and_then(Value::as_str) else {
                self.add(&f, &loc, "", "no string `type`: cannot tell which event schema applies".into());
                continue;
            };
            let matching: Vec<usize> = schemas
                .iter()
                .enumerate()
                .filter(|(i, s)| match s.schema.pointer("/properties/type") {
                    Some(ts) => {
                        let (uri, store) = &stores[*i];
                        Validator::new(store, Formats::None).validate(ts, uri, &Value::String(t.to_string())).is_empty()
                    }
                    None => false,
                })
                .map(|(i, _)| i)
                .collect();
            if matching.is_empty() {
                self.add(&f, &loc, "/type", format!("/type: no event schema admits type `{t}`"));
                continue;
            }
            for i in matching {
                let (uri, store) = &stores[i];
                for e in Validator::new(store, Formats::All).validate(&schemas[i].schema, uri, &event) {
                    let at = if e.pointer.is_empty() { "/" } else { e.pointer.as_str() };
                    self.add(&f, &loc, &e.pointer, format!("{at}: {} (schema {})", e.message, schemas[i].path));
                }
            }
        }
    }

    // -- 4. OpenAPI components = event schemas ----------------------------------

    pub(crate) fn consistency(&mut self, doc: &Value, loc: &Locations, schemas: &[EventSchema]) {
        for s in schemas.iter().filter(|s| s.path.starts_with(paths::EVENT_SCHEMAS)) {
            let stem = s.path.rsplit('/').next().unwrap_or("").trim_end_matches(".schema.json");
            let class = names::pascal(stem);
            let at = ptr(&["components", "schemas", &class]);
            let Some(component) = doc.pointer(&at) else { continue };
            let mut expected = s.schema.clone();
            if let Some(o) = expected.as_object_mut() {
                o.remove("$schema");
                o.remove("$id");
            }
            if let Some(diff) = first_difference(component, &expected, "") {
                self.add(
                    paths::OPENAPI,
                    loc,
                    &format!("{at}{diff}"),
                    format!("components.schemas.{class} differs from {} at {}", s.path, if diff.is_empty() { "/" } else { &diff }),
                );
            }
        }
    }
}

/// Every `$ref` string anywhere in an OpenAPI document: `(pointer, reference)`.
pub(crate) fn all_refs(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                let p = format!("{at}/{}", locate::escape(k));
                match (k.as_str(), child) {
                    ("$ref", Value::String(r)) => out.push((p, r.clone())),
                    _ => all_refs(child, &p, out),
                }
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                all_refs(child, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// The first pointer where `a` and `b` differ.
pub fn first_difference(a: &Value, b: &Value, at: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(p), Some(q)) => first_difference(p, q, &format!("{at}/{}", locate::escape(k))),
                _ => Some(format!("{at}/{}", locate::escape(k))),
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().find_map(|(i, (p, q))| first_difference(p, q, &format!("{at}/{i}")))
        }
        _ if validator::json_eq(a, b) => None,
        _ => Some(at.to_string()),
    }
}

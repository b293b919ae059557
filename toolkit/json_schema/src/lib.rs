//! A compact JSON Schema validator (drafts 4 to 2020-12) that reports every
//! violation. It replaces the `jsonschema` crate inside the component, which
//! builds for `wasm32-wasip2` but makes a 3.2 MB component (the limit is
//! 1 MB); the native tests check its verdicts against that crate.
//!
//! Supported: `type`, `enum`, `const`, the numeric, string, array and object
//! assertions, `properties`, `patternProperties`, `additionalProperties`,
//! `propertyNames`, `dependentRequired`, `dependentSchemas`, `dependencies`,
//! `prefixItems`, `items` (both forms), `additionalItems`, `contains` with
//! `minContains`/`maxContains`, `allOf`, `anyOf`, `oneOf`, `not`,
//! `if`/`then`/`else`, `unevaluatedProperties`, `unevaluatedItems`, `$ref`
//! to JSON pointers, `$id`s and `$anchor`s in the schema or in workspace files,
//! and `format` (asserted only when asked; `regex` always for schemas).
//! `$dynamicRef` and `$recursiveRef` resolve statically, like `$ref`. Patterns
//! use `regex-lite`: no Unicode classes such as `\p{L}`.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// One failed assertion: where in the instance, which keyword, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub pointer: String,
    pub schema_path: String,
    pub message: String,
}

/// Which `format`s are asserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Formats {
    /// None: formats are annotations (the default of drafts 2019-09 and 2020-12).
    None,
    /// Only `regex` (the meta-schema uses it to check patterns).
    RegexOnly,
    /// Every format this module knows; unknown formats pass.
    All,
}

/// The meta-schema schemas are checked against: one document accepting the
/// keywords of drafts 4 to 2020-12 with their value types.
pub const META_SCHEMA: &str = include_str!("meta.json");

/// The drafts whose differences matter to this validator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Draft {
    Draft4,
    Draft6,
    Draft7,
    Draft2019,
    #[default]
    Draft2020,
}

impl Draft {
    /// Drafts 4 to 7 ignore the keywords beside `$ref`, `$id` included.
    fn legacy_ref(self) -> bool {
        matches!(self, Draft::Draft4 | Draft::Draft6 | Draft::Draft7)
    }

    fn id_key(self) -> &'static str {
        if self == Draft::Draft4 { "id" } else { "$id" }
    }

    /// The identifier a schema object declares, as written, if the draft
    /// lets it count there.
    fn id_of(self, obj: &Map<String, Value>) -> Option<&str> {
        if self.legacy_ref() && obj.contains_key("$ref") {
            return None;
        }
        obj.get(self.id_key()).and_then(Value::as_str)
    }

    /// The base URI inside a schema object whose enclosing base is `base`.
    fn base_in(self, base: &str, obj: &Map<String, Value>) -> Option<String> {
        let id = self.id_of(obj)?;
        (!id.starts_with('#')).then(|| split_fragment(&resolve(base, id)).0.to_string())
    }
}

/// The draft a `$schema` URI names, if this module knows it.
pub fn draft_of(uri: &str) -> Option<Draft> {
    let uri = uri.trim_end_matches('#');
    let uri = uri
        .strip_prefix("http://")
        .or_else(|| uri.strip_prefix("https://"))?;
    match uri {
        "json-schema.org/draft-04/schema" => Some(Draft::Draft4),
        "json-schema.org/draft-06/schema" => Some(Draft::Draft6),
        "json-schema.org/draft-07/schema" => Some(Draft::Draft7),
        "json-schema.org/draft/2019-09/schema" => Some(Draft::Draft2019),
        "json-schema.org/draft/2020-12/schema" => Some(Draft::Draft2020),
        _ => None,
    }
}

const KNOWN_META_URIS: [&str; 5] = [
    "http://json-schema.org/draft-04/schema",
    "http://json-schema.org/draft-06/schema",
    "http://json-schema.org/draft-07/schema",
    "https://json-schema.org/draft/2019-09/schema",
    "https://json-schema.org/draft/2020-12/schema",
];

// ---------------------------------------------------------------------------
// URIs (RFC 3986 reference resolution, enough for `$id` and `$ref`)

struct UriParts<'a> {
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
}

fn parse_uri(s: &str) -> UriParts<'_> {
    let (rest, fragment) = match s.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (s, None),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let mut scheme = None;
    let mut rest = rest;
    if let Some(colon) = rest.find(':') {
        let candidate = &rest[..colon];
        let valid = candidate
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && candidate
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if valid && !candidate.contains('/') {
            scheme = Some(candidate);
            rest = &rest[colon + 1..];
        }
    }
    let (authority, path) = match rest.strip_prefix("//") {
        Some(after) => match after.find('/') {
            Some(slash) => (Some(&after[..slash]), &after[slash..]),
            None => (Some(after), ""),
        },
        None => (None, rest),
    };
    UriParts {
        scheme,
        authority,
        path,
        query,
        fragment,
    }
}

fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let absolute = path.starts_with('/');
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len().saturating_sub(1);
    let mut trailing_slash = false;
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => trailing_slash = i == last,
            ".." => {
                if out.len() > usize::from(absolute) {
                    out.pop();
                }
                trailing_slash = i == last;
            }
            s => {
                out.push(s);
                trailing_slash = false;
            }
        }
    }
    let mut joined = out.join("/");
    if trailing_slash && !joined.ends_with('/') {
        joined.push('/');
    }
    if absolute && !joined.starts_with('/') {
        joined.insert(0, '/');
    }
    joined
}

/// Resolve `reference` against `base`.
pub fn resolve(base: &str, reference: &str) -> String {
    let r = parse_uri(reference);
    let b = parse_uri(base);
    let (scheme, authority, path, query);
    if r.scheme.is_some() {
        scheme = r.scheme;
        authority = r.authority;
        path = remove_dot_segments(r.path);
        query = r.query;
    } else {
        scheme = b.scheme;
        if r.authority.is_some() {
            authority = r.authority;
            path = remove_dot_segments(r.path);
            query = r.query;
        } else {
            authority = b.authority;
            if r.path.is_empty() {
                path = b.path.to_string();
                query = r.query.or(b.query);
            } else {
                let merged = if r.path.starts_with('/') {
                    r.path.to_string()
                } else if b.authority.is_some() && b.path.is_empty() {
                    format!("/{}", r.path)
                } else {
                    match b.path.rfind('/') {
                        Some(slash) => format!("{}{}", &b.path[..=slash], r.path),
                        None => r.path.to_string(),
                    }
                };
                path = remove_dot_segments(&merged);
                query = r.query;
            }
        }
    }
    let mut out = String::new();
    if let Some(s) = scheme {
        out.push_str(s);
        out.push(':');
    }
    if let Some(a) = authority {
        out.push_str("//");
        out.push_str(a);
    }
    out.push_str(&path);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    if let Some(f) = r.fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

fn split_fragment(uri: &str) -> (&str, &str) {
    match uri.split_once('#') {
        Some((u, f)) => (u, f),
        None => (uri, ""),
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && bytes[i + 1].is_ascii_hexdigit()
            && bytes[i + 2].is_ascii_hexdigit()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn unescape_token(t: &str) -> String {
    t.replace("~1", "/").replace("~0", "~")
}

fn escape_token(t: &str) -> String {
    t.replace('~', "~0").replace('/', "~1")
}

// ---------------------------------------------------------------------------
// The schema store: documents, `$id`s and anchors

const SCHEMA_KEYS: [&str; 12] = [
    "additionalProperties",
    "propertyNames",
    "contains",
    "not",
    "if",
    "then",
    "else",
    "items",
    "additionalItems",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contentSchema",
];
const MAP_KEYS: [&str; 6] = [
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
    "dependencies",
];
const ARRAY_KEYS: [&str; 5] = ["allOf", "anyOf", "oneOf", "prefixItems", "items"];
const REF_KEYS: [&str; 3] = ["$ref", "$dynamicRef", "$recursiveRef"];

/// Every subschema of `schema` (not itself) as `(pointer suffix, value)`.
fn children(schema: &Map<String, Value>) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for key in SCHEMA_KEYS {
        if let Some(v @ (Value::Object(_) | Value::Bool(_))) = schema.get(key) {
            out.push((format!("/{key}"), v));
        }
    }
    for key in MAP_KEYS {
        if let Some(Value::Object(map)) = schema.get(key) {
            for (name, v) in map {
                if matches!(v, Value::Object(_) | Value::Bool(_)) {
                    out.push((format!("/{key}/{}", escape_token(name)), v));
                }
            }
        }
    }
    for key in ARRAY_KEYS {
        if let Some(Value::Array(list)) = schema.get(key) {
            for (i, v) in list.iter().enumerate() {
                out.push((format!("/{key}/{i}"), v));
            }
        }
    }
    out
}

/// A `$ref` found in a document, for the resolution check.
pub struct RefSite {
    /// The document holding it.
    pub resource: String,
    /// JSON pointer to the keyword within that document.
    pub pointer: String,
    /// The reference as written.
    pub reference: String,
    /// The reference resolved against its base.
    pub target: String,
}

#[derive(Default)]
pub struct Store {
    draft: Draft,
    /// Documents by absolute URI (no fragment).
    resources: BTreeMap<String, Value>,
    /// `$id` URI → (document, pointer).
    ids: BTreeMap<String, (String, String)>,
    /// `uri#anchor` → (document, pointer).
    anchors: BTreeMap<String, (String, String)>,
}

impl Store {
    /// A store for schemas of `draft`, holding the meta-schema under the
    /// known draft URIs.
    pub fn new(meta: &Value, draft: Draft) -> Store {
        let mut store = Store {
            draft,
            ..Store::default()
        };
        for uri in KNOWN_META_URIS {
            store.resources.insert(uri.to_string(), meta.clone());
        }
        store
    }

    pub fn contains(&self, uri: &str) -> bool {
        self.resources.contains_key(uri) || self.ids.contains_key(uri)
    }

    /// Add a document and index its `$id`s and anchors; returns its `$ref`s.
    pub fn add(&mut self, uri: &str, doc: Value) -> Vec<RefSite> {
        let mut refs = Vec::new();
        self.index(uri, &doc, "", uri.to_string(), &mut refs);
        self.resources.insert(uri.to_string(), doc);
        refs
    }

    fn index(
        &mut self,
        res: &str,
        schema: &Value,
        pointer: &str,
        base: String,
        refs: &mut Vec<RefSite>,
    ) {
        let Value::Object(obj) = schema else { return };
        let mut base = base;
        if let Some(id) = self.draft.id_of(obj) {
            let full = resolve(&base, id);
            let (uri, fragment) = split_fragment(&full);
            if !id.starts_with('#') {
                base = uri.to_string();
                self.ids
                    .insert(base.clone(), (res.to_string(), pointer.to_string()));
            }
            if !fragment.is_empty() && !fragment.starts_with('/') {
                self.anchors.insert(
                    format!("{uri}#{fragment}"),
                    (res.to_string(), pointer.to_string()),
                );
            }
        }
        for key in ["$anchor", "$dynamicAnchor"] {
            if let Some(Value::String(name)) = obj.get(key) {
                self.anchors.insert(
                    format!("{base}#{name}"),
                    (res.to_string(), pointer.to_string()),
                );
            }
        }
        for key in REF_KEYS {
            if let Some(Value::String(reference)) = obj.get(key) {
                refs.push(RefSite {
                    resource: res.to_string(),
                    pointer: format!("{pointer}/{}", escape_token(key)),
                    reference: reference.clone(),
                    target: resolve(&base, reference),
                });
            }
        }
        for (suffix, child) in children(obj) {
            self.index(
                res,
                child,
                &format!("{pointer}{suffix}"),
                base.clone(),
                refs,
            );
        }
    }

    /// The subschema a reference (already resolved to an absolute URI) names,
    /// and the base URI in force where it sits (not counting its own `$id`).
    pub fn lookup(&self, target: &str) -> Result<(&Value, String), String> {
        let (uri, fragment) = split_fragment(target);
        let fragment = percent_decode(fragment);
        let (res, pointer) = if fragment.is_empty() || fragment.starts_with('/') {
            let (res, at) = match self.ids.get(uri) {
                Some((res, at)) => (res.as_str(), at.clone()),
                None if self.resources.contains_key(uri) => (uri, String::new()),
                None => return Err(format!("`{uri}` is not known")),
            };
            (res, format!("{at}{fragment}"))
        } else {
            match self.anchors.get(&format!("{uri}#{fragment}")) {
                Some((res, at)) => (res.as_str(), at.clone()),
                None => return Err(format!("no anchor `{fragment}` in `{uri}`")),
            }
        };
        self.locate(res, &pointer)
            .ok_or_else(|| format!("`{target}` points at nothing"))
    }

    fn locate(&self, res: &str, pointer: &str) -> Option<(&Value, String)> {
        let mut node = self.resources.get(res)?;
        let mut base = res.to_string();
        if pointer.is_empty() {
            return Some((node, base));
        }
        for token in pointer.split('/').skip(1) {
            if let Value::Object(obj) = node
                && let Some(inner) = self.draft.base_in(&base, obj)
            {
                base = inner;
            }
            let token = unescape_token(token);
            node = match node {
                Value::Object(map) => map.get(&token)?,
                Value::Array(list) => list.get(token.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some((node, base))
    }
}

// ---------------------------------------------------------------------------
// Validation

/// How deep schemas may nest during one validation (catches `$ref` loops).
const MAX_DEPTH: usize = 256;
/// Instance text in messages is cut after this many characters.
const MAX_SHOWN: usize = 120;

pub struct Validator<'s> {
    store: &'s Store,
    formats: Formats,
    regexes: RefCell<BTreeMap<String, Option<regex_lite::Regex>>>,
    /// The schemas being applied, with the value each applies to.
    active: RefCell<Vec<(usize, String)>>,
    /// The first loop met during this validation.
    first_loop: RefCell<Option<Error>>,
}

#[derive(Default)]
struct Evaluated {
    props: BTreeSet<String>,
    items: BTreeSet<usize>,
    all_items: bool,
}

impl Evaluated {
    fn merge(&mut self, other: Evaluated) {
        self.props.extend(other.props);
        self.items.extend(other.items);
        self.all_items |= other.all_items;
    }
}

/// Instance text for messages: compact JSON, cut if long.
fn show(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() <= MAX_SHOWN {
        text
    } else {
        let cut: String = text.chars().take(MAX_SHOWN).collect();
        format!("{cut}...")
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn quoted_list(items: &[String]) -> String {
    let list: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!(
        "{} {}",
        list.join(", "),
        if items.len() == 1 { "was" } else { "were" }
    )
}

fn is_integer(n: &serde_json::Number) -> bool {
    n.is_i64()
        || n.is_u64()
        || n.as_f64()
            .is_some_and(|f| f.is_finite() && f.fract() == 0.0)
}

fn type_matches(t: &str, v: &Value) -> bool {
    match (t, v) {
        ("null", Value::Null)
        | ("boolean", Value::Bool(_))
        | ("string", Value::String(_))
        | ("array", Value::Array(_))
        | ("object", Value::Object(_))
        | ("number", Value::Number(_)) => true,
        ("integer", Value::Number(n)) => is_integer(n),
        _ => false,
    }
}

/// JSON equality with numbers compared by value (`1 == 1.0`).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(i), Some(j)) => i == j,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn as_count(v: Option<&Value>) -> Option<u64> {
    let n = v?.as_number()?;
    n.as_u64().or_else(|| {
        n.as_f64()
            .filter(|f| *f >= 0.0 && f.fract() == 0.0)
            .map(|f| f as u64)
    })
}

fn is_multiple(x: &serde_json::Number, m: &serde_json::Number) -> bool {
    if let (Some(a), Some(b)) = (x.as_i64(), m.as_i64())
        && b != 0
    {
        return a % b == 0;
    }
    let (Some(a), Some(b)) = (x.as_f64(), m.as_f64()) else {
        return false;
    };
    if b == 0.0 {
        return false;
    }
    let q = a / b;
    if !q.is_finite() {
        return false;
    }
    (q - q.round()).abs() <= 1e-9 * q.abs().max(1.0)
}

impl<'s> Validator<'s> {
    pub fn new(store: &'s Store, formats: Formats) -> Self {
        Validator {
            store,
            formats,
            regexes: RefCell::new(BTreeMap::new()),
            active: RefCell::new(Vec::new()),
            first_loop: RefCell::new(None),
        }
    }

    /// Every violation of `schema` (whose base URI is `base`) by `instance`.
    pub fn validate(&self, schema: &Value, base: &str, instance: &Value) -> Vec<Error> {
        let mut out = Vec::new();
        self.check(schema, base, instance, "", "", 0, &mut out);
        out.extend(self.first_loop.borrow_mut().take());
        out
    }

    fn regex_matches(&self, pattern: &str, text: &str) -> Option<bool> {
        let mut cache = self.regexes.borrow_mut();
        let re = cache
            .entry(pattern.to_string())
            .or_insert_with(|| regex_lite::Regex::new(pattern).ok());
        re.as_ref().map(|r| r.is_match(text))
    }

    fn format_ok(&self, format: &str, s: &str) -> bool {
        match (self.formats, format) {
            (Formats::None, _) => true,
            (_, "regex") => regex_lite::Regex::new(s).is_ok(),
            (Formats::RegexOnly, _) => true,
            (Formats::All, f) => formats::check(f, s),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn check(
        &self,
        schema: &Value,
        base: &str,
        inst: &Value,
        ip: &str,
        sp: &str,
        depth: usize,
        out: &mut Vec<Error>,
    ) -> Evaluated {
        let mut ev = Evaluated::default();
        let err = |out: &mut Vec<Error>, kw: &str, message: String| {
            out.push(Error {
                pointer: ip.to_string(),
                schema_path: format!("{sp}/{kw}"),
                message,
            })
        };
        let s = match schema {
            Value::Object(s) => s,
            Value::Bool(false) => {
                out.push(Error {
                    pointer: ip.to_string(),
                    schema_path: sp.to_string(),
                    message: format!("False schema does not allow {}", show(inst)),
                });
                return ev;
            }
            _ => return ev,
        };
        if depth > MAX_DEPTH {
            out.push(Error {
                pointer: ip.to_string(),
                schema_path: sp.to_string(),
                message: format!(
                    "schemas nest deeper than {MAX_DEPTH} levels here (a `$ref` loop?)"
                ),
            });
            return ev;
        }
        // A schema applied again to the same value, without descending into
        // it, would loop forever (`{"$ref": "#"}`). The first such loop is
        // reported (even inside an `anyOf` or `not` probe); the re-entry
        // itself adds no constraint.
        let key = (std::ptr::from_ref(schema) as usize, ip.to_string());
        if self.active.borrow().contains(&key) {
            let mut first = self.first_loop.borrow_mut();
            if first.is_none() {
                *first = Some(Error {
                    pointer: ip.to_string(),
                    schema_path: sp.to_string(),
                    message: "`$ref` loop: this schema applies to the same value again".to_string(),
                });
            }
            return ev;
        }
        self.active.borrow_mut().push(key);
        self.check_body(s, base, inst, ip, sp, depth, out, &mut ev, &err);
        self.active.borrow_mut().pop();
        ev
    }

    #[allow(clippy::too_many_arguments)]
    fn check_body(
        &self,
        s: &Map<String, Value>,
        base: &str,
        inst: &Value,
        ip: &str,
        sp: &str,
        depth: usize,
        out: &mut Vec<Error>,
        ev: &mut Evaluated,
        err: &dyn Fn(&mut Vec<Error>, &str, String),
    ) {
        let base = self
            .store
            .draft
            .base_in(base, s)
            .unwrap_or_else(|| base.to_string());
        let at = At { s, base: &base, inst, ip, sp, depth, err };
        if self.check_refs(&at, out, ev) {
            return;
        }
        check_value(&at, out);
        self.check_in_place(&at, out, ev);
        self.check_conditional(&at, out, ev);
        match inst {
            Value::Number(n) => self.check_number(s, n, inst, out, err),
            Value::String(text) => self.check_string(s, text, inst, out, err),
            Value::Array(items) => self.check_array(&at, items, out, ev),
            Value::Object(map) => self.check_object(&at, map, out, ev),
            _ => {}
        }
    }

    /// `$ref` (and `$dynamicRef`, `$recursiveRef`); true when a legacy
    /// draft's `$ref` makes the schema's other keywords void.
    fn check_refs(&self, at: &At<'_>, out: &mut Vec<Error>, ev: &mut Evaluated) -> bool {
        let At { s, base, inst, ip, sp, depth, err } = *at;
        let mut has_ref = false;
        for key in REF_KEYS {
            if let Some(Value::String(reference)) = s.get(key) {
                has_ref = true;
                match self.store.lookup(&resolve(base, reference)) {
                    Ok((target, target_base)) => {
                        let before = out.len();
                        let sub = self.check(
                            target,
                            &target_base,
                            inst,
                            ip,
                            &format!("{sp}/{key}"),
                            depth + 1,
                            out,
                        );
                        if out.len() == before {
                            ev.merge(sub);
                        }
                    }
                    Err(why) => err(out, key, format!("cannot resolve `{reference}`: {why}")),
                }
            }
        }
        has_ref && self.store.draft.legacy_ref()
    }

    /// `allOf`, `anyOf`, `oneOf`, `not`.
    fn check_in_place(&self, at: &At<'_>, out: &mut Vec<Error>, ev: &mut Evaluated) {
        let At { s, base, inst, ip, sp, depth, err } = *at;
        if let Some(Value::Array(list)) = s.get("allOf") {
            for (i, sub) in list.iter().enumerate() {
                let before = out.len();
                let e = self.check(
                    sub,
                    base,
                    inst,
                    ip,
                    &format!("{sp}/allOf/{i}"),
                    depth + 1,
                    out,
                );
                if out.len() == before {
                    ev.merge(e);
                }
            }
        }
        if let Some(Value::Array(list)) = s.get("anyOf") {
            let mut any = false;
            for (i, sub) in list.iter().enumerate() {
                let mut scratch = Vec::new();
                let e = self.check(
                    sub,
                    base,
                    inst,
                    ip,
                    &format!("{sp}/anyOf/{i}"),
                    depth + 1,
                    &mut scratch,
                );
                if scratch.is_empty() {
                    any = true;
                    ev.merge(e);
                }
            }
            if !any {
                err(
                    out,
                    "anyOf",
                    format!(
                        "{} is not valid under any of the schemas listed in the 'anyOf' keyword",
                        show(inst)
                    ),
                );
            }
        }
        if let Some(Value::Array(list)) = s.get("oneOf") {
            let mut valid = Vec::new();
            for (i, sub) in list.iter().enumerate() {
                let mut scratch = Vec::new();
                let e = self.check(
                    sub,
                    base,
                    inst,
                    ip,
                    &format!("{sp}/oneOf/{i}"),
                    depth + 1,
                    &mut scratch,
                );
                if scratch.is_empty() {
                    valid.push(e);
                }
            }
            match valid.len() {
                0 => err(
                    out,
                    "oneOf",
                    format!(
                        "{} is not valid under any of the schemas listed in the 'oneOf' keyword",
                        show(inst)
                    ),
                ),
                1 => valid.into_iter().for_each(|e| ev.merge(e)),
                _ => err(
                    out,
                    "oneOf",
                    format!(
                        "{} is valid under more than one of the schemas listed in the 'oneOf' keyword",
                        show(inst)
                    ),
                ),
            }
        }
        if let Some(sub) = s.get("not") {
            let mut scratch = Vec::new();
            self.check(
                sub,
                base,
                inst,
                ip,
                &format!("{sp}/not"),
                depth + 1,
                &mut scratch,
            );
            if scratch.is_empty() {
                err(
                    out,
                    "not",
                    format!("{} is not allowed for {}", show(sub), show(inst)),
                );
            }
        }
    }

    /// `if` / `then` / `else`.
    fn check_conditional(&self, at: &At<'_>, out: &mut Vec<Error>, ev: &mut Evaluated) {
        let At { s, base, inst, ip, sp, depth, .. } = *at;
        if let Some(cond) = s.get("if") {
            let mut scratch = Vec::new();
            let e = self.check(
                cond,
                base,
                inst,
                ip,
                &format!("{sp}/if"),
                depth + 1,
                &mut scratch,
            );
            let branch = if scratch.is_empty() {
                ev.merge(e);
                "then"
            } else {
                "else"
            };
            if let Some(sub) = s.get(branch) {
                let before = out.len();
                let e = self.check(
                    sub,
                    base,
                    inst,
                    ip,
                    &format!("{sp}/{branch}"),
                    depth + 1,
                    out,
                );
                if out.len() == before {
                    ev.merge(e);
                }
            }
        }
    }

    fn check_number(
        &self,
        s: &Map<String, Value>,
        n: &serde_json::Number,
        inst: &Value,
        out: &mut Vec<Error>,
        err: &dyn Fn(&mut Vec<Error>, &str, String),
    ) {
        let Some(x) = n.as_f64() else { return };
        let num = |k: &str| s.get(k).and_then(Value::as_f64);
        let exclusive_flag = |k: &str| s.get(k).and_then(Value::as_bool).unwrap_or(false);
        if let Some(min) = num("minimum") {
            if exclusive_flag("exclusiveMinimum") {
                if x <= min {
                    err(
                        out,
                        "minimum",
                        format!(
                            "{} is less than or equal to the minimum of {min}",
                            show(inst)
                        ),
                    );
                }
            } else if x < min {
                err(
                    out,
                    "minimum",
                    format!(
                        "{} is less than the minimum of {}",
                        show(inst),
                        show(&s["minimum"])
                    ),
                );
            }
        }
        if let Some(max) = num("maximum") {
            if exclusive_flag("exclusiveMaximum") {
                if x >= max {
                    err(
                        out,
                        "maximum",
                        format!(
                            "{} is greater than or equal to the maximum of {max}",
                            show(inst)
                        ),
                    );
                }
            } else if x > max {
                err(
                    out,
                    "maximum",
                    format!(
                        "{} is greater than the maximum of {}",
                        show(inst),
                        show(&s["maximum"])
                    ),
                );
            }
        }
        if let Some(min) = num("exclusiveMinimum")
            && x <= min
        {
            err(
                out,
                "exclusiveMinimum",
                format!(
                    "{} is less than or equal to the minimum of {}",
                    show(inst),
                    show(&s["exclusiveMinimum"])
                ),
            );
        }
        if let Some(max) = num("exclusiveMaximum")
            && x >= max
        {
            err(
                out,
                "exclusiveMaximum",
                format!(
                    "{} is greater than or equal to the maximum of {}",
                    show(inst),
                    show(&s["exclusiveMaximum"])
                ),
            );
        }
        if let Some(Value::Number(m)) = s.get("multipleOf")
            && !is_multiple(n, m)
        {
            err(
                out,
                "multipleOf",
                format!("{} is not a multiple of {m}", show(inst)),
            );
        }
    }

    fn check_string(
        &self,
        s: &Map<String, Value>,
        text: &str,
        inst: &Value,
        out: &mut Vec<Error>,
        err: &dyn Fn(&mut Vec<Error>, &str, String),
    ) {
        let len = text.chars().count() as u64;
        if let Some(max) = as_count(s.get("maxLength"))
            && len > max
        {
            err(
                out,
                "maxLength",
                format!(
                    "{} is longer than {}",
                    show(inst),
                    plural(max, "character", "characters")
                ),
            );
        }
        if let Some(min) = as_count(s.get("minLength"))
            && len < min
        {
            err(
                out,
                "minLength",
                format!(
                    "{} is shorter than {}",
                    show(inst),
                    plural(min, "character", "characters")
                ),
            );
        }
        if let Some(Value::String(pattern)) = s.get("pattern") {
            match self.regex_matches(pattern, text) {
                Some(true) => {}
                Some(false) => err(
                    out,
                    "pattern",
                    format!("{} does not match \"{pattern}\"", show(inst)),
                ),
                None => err(
                    out,
                    "pattern",
                    format!("the pattern \"{pattern}\" is not a supported regular expression"),
                ),
            }
        }
        if let Some(Value::String(format)) = s.get("format")
            && !self.format_ok(format, text)
        {
            err(
                out,
                "format",
                format!("{} is not a \"{format}\"", show(inst)),
            );
        }
    }

    /// Keywords on an array: counts, `uniqueItems`, the items, `contains`,
    /// `unevaluatedItems`.
    fn check_array(&self, at: &At<'_>, items: &[Value], out: &mut Vec<Error>, ev: &mut Evaluated) {
        check_array_counts(at, items, out);
        self.check_items(at, items, out, ev);
        self.check_contains(at, items, out, ev);
        self.check_unevaluated_items(at, items, out, ev);
    }

    /// Check item `i` of `items` against `sub` at schema path `path`.
    fn check_item(&self, at: &At<'_>, items: &[Value], i: usize, sub: &Value, path: String, out: &mut Vec<Error>) {
        self.check(sub, at.base, &items[i], &format!("{}/{i}", at.ip), &path, at.depth + 1, out);
    }

    /// The tuple part (`prefixItems`, or `items` as an array before
    /// 2020-12) and the rest (`items`, or `additionalItems`).
    fn check_items(&self, at: &At<'_>, items: &[Value], out: &mut Vec<Error>, ev: &mut Evaluated) {
        let At { s, sp, err, .. } = *at;
        let item = |i: usize, sub: &Value, path: String, out: &mut Vec<Error>| self.check_item(at, items, i, sub, path, out);
        let (tuple, tuple_key) = match (s.get("prefixItems"), s.get("items")) {
            (Some(Value::Array(t)), _) => (Some(t), "prefixItems"),
            (_, Some(Value::Array(t))) => (Some(t), "items"),
            _ => (None, ""),
        };
        let mut rest_from = 0;
        if let Some(tuple) = tuple {
            for (i, sub) in tuple.iter().enumerate().take(items.len()) {
                item(i, sub, format!("{sp}/{tuple_key}/{i}"), out);
                ev.items.insert(i);
            }
            rest_from = tuple.len();
        }
        let rest_key = if tuple_key == "items" {
            "additionalItems"
        } else {
            "items"
        };
        if let Some(sub @ (Value::Object(_) | Value::Bool(_))) = s.get(rest_key) {
            if sub == &Value::Bool(false) && items.len() > rest_from {
                let kw = rest_key;
                let extra = items.len() - rest_from;
                err(
                    out,
                    kw,
                    format!(
                        "Additional items are not allowed ({} {} unexpected)",
                        plural(extra as u64, "item", "items"),
                        if extra == 1 { "was" } else { "were" }
                    ),
                );
            } else {
                for i in rest_from..items.len() {
                    item(i, sub, format!("{sp}/{rest_key}"), out);
                }
            }
            ev.all_items = true;
        }
    }

    /// `contains`, `minContains`, `maxContains`.
    fn check_contains(&self, at: &At<'_>, items: &[Value], out: &mut Vec<Error>, ev: &mut Evaluated) {
        let At { s, base, inst, ip, sp, depth, err } = *at;
        if let Some(sub) = s.get("contains") {
            let mut matched = 0u64;
            for (i, value) in items.iter().enumerate() {
                let mut scratch = Vec::new();
                self.check(
                    sub,
                    base,
                    value,
                    &format!("{ip}/{i}"),
                    &format!("{sp}/contains"),
                    depth + 1,
                    &mut scratch,
                );
                if scratch.is_empty() {
                    matched += 1;
                    ev.items.insert(i);
                }
            }
            let min = as_count(s.get("minContains")).unwrap_or(1);
            if matched < min {
                if min == 1 {
                    err(
                        out,
                        "contains",
                        format!("None of {} are valid under the given schema", show(inst)),
                    );
                } else {
                    err(
                        out,
                        "minContains",
                        format!(
                            "{} contains {matched} matching {}, fewer than the minimum of {min}",
                            show(inst),
                            if matched == 1 { "item" } else { "items" }
                        ),
                    );
                }
            }
            if let Some(max) = as_count(s.get("maxContains"))
                && matched > max
            {
                err(
                    out,
                    "maxContains",
                    format!(
                        "{} contains {matched} matching items, more than the maximum of {max}",
                        show(inst)
                    ),
                );
            }
        }
    }

    /// `unevaluatedItems`: the items no other keyword evaluated.
    fn check_unevaluated_items(&self, at: &At<'_>, items: &[Value], out: &mut Vec<Error>, ev: &mut Evaluated) {
        let At { s, sp, err, .. } = *at;
        let item = |i: usize, sub: &Value, path: String, out: &mut Vec<Error>| self.check_item(at, items, i, sub, path, out);
        if let Some(sub) = s.get("unevaluatedItems") {
            let unevaluated: Vec<usize> = if ev.all_items {
                Vec::new()
            } else {
                (0..items.len()).filter(|i| !ev.items.contains(i)).collect()
            };
            if sub == &Value::Bool(false) {
                if !unevaluated.is_empty() {
                    let shown: Vec<String> = unevaluated.iter().map(|&i| show(&items[i])).collect();
                    err(
                        out,
                        "unevaluatedItems",
                        format!(
                            "Unevaluated items are not allowed ({})",
                            quoted_list(&shown)
                        ),
                    );
                }
            } else {
                for i in unevaluated {
                    item(i, sub, format!("{sp}/unevaluatedItems"), out);
                }
            }
            ev.all_items = true;
        }
    }

    /// Keywords on an object: counts and required names, dependencies, the
    /// properties, `propertyNames`, `unevaluatedProperties`.
    fn check_object(&self, at: &At<'_>, map: &Map<String, Value>, out: &mut Vec<Error>, ev: &mut Evaluated) {
        check_object_counts(at, map, out);
        self.check_dependencies(at, map, out, ev);
        self.check_properties(at, map, out, ev);
        self.check_property_names(at, map, out);
        self.check_unevaluated_properties(at, map, out, ev);
    }

    /// `dependentSchemas` and the legacy `dependencies` (names or a schema).
    fn check_dependencies(&self, at: &At<'_>, map: &Map<String, Value>, out: &mut Vec<Error>, ev: &mut Evaluated) {
        let At { s, base, inst, ip, sp, depth, err } = *at;
        for key in ["dependentSchemas", "dependencies"] {
            if let Some(Value::Object(deps)) = s.get(key) {
                for (trigger, dep) in deps {
                    if !map.contains_key(trigger) {
                        continue;
                    }
                    let path = format!("{sp}/{key}/{}", escape_token(trigger));
                    match dep {
                        Value::Array(needed) => {
                            for name in needed.iter().filter_map(Value::as_str) {
                                if !map.contains_key(name) {
                                    err(out, key, format!("\"{name}\" is a required property"));
                                }
                            }
                        }
                        sub => {
                            let before = out.len();
                            let e = self.check(sub, base, inst, ip, &path, depth + 1, out);
                            if out.len() == before {
                                ev.merge(e);
                            }
                        }
                    }
                }
            }
        }
    }

    /// `properties`, `patternProperties`, `additionalProperties`.
    fn check_properties(&self, at: &At<'_>, map: &Map<String, Value>, out: &mut Vec<Error>, ev: &mut Evaluated) {
        let At { s, base, ip, sp, depth, err, .. } = *at;
        let child = |name: &str| format!("{ip}/{}", escape_token(name));
        let props = match s.get("properties") {
            Some(Value::Object(p)) => Some(p),
            _ => None,
        };
        if let Some(props) = props {
            for (name, sub) in props {
                if let Some(value) = map.get(name) {
                    let path = format!("{sp}/properties/{}", escape_token(name));
                    self.check(sub, base, value, &child(name), &path, depth + 1, out);
                    ev.props.insert(name.clone());
                }
            }
        }
        let patterns = match s.get("patternProperties") {
            Some(Value::Object(p)) => Some(p),
            _ => None,
        };
        let mut matched_pattern = BTreeSet::new();
        if let Some(patterns) = patterns {
            for (pattern, sub) in patterns {
                for (name, value) in map {
                    if self.regex_matches(pattern, name) == Some(true) {
                        let path = format!("{sp}/patternProperties/{}", escape_token(pattern));
                        self.check(sub, base, value, &child(name), &path, depth + 1, out);
                        matched_pattern.insert(name.clone());
                        ev.props.insert(name.clone());
                    }
                }
            }
        }
        if let Some(sub) = s.get("additionalProperties") {
            let extra: Vec<&String> = map
                .keys()
                .filter(|k| {
                    !props.is_some_and(|p| p.contains_key(*k)) && !matched_pattern.contains(*k)
                })
                .collect();
            if sub == &Value::Bool(false) {
                if !extra.is_empty() {
                    let names: Vec<String> = extra.iter().map(|k| k.to_string()).collect();
                    err(
                        out,
                        "additionalProperties",
                        format!(
                            "Additional properties are not allowed ({} unexpected)",
                            quoted_list(&names)
                        ),
                    );
                }
            } else {
                for name in &extra {
                    self.check(
                        sub,
                        base,
                        &map[*name],
                        &child(name),
                        &format!("{sp}/additionalProperties"),
                        depth + 1,
                        out,
                    );
                }
            }
            ev.props.extend(extra.into_iter().cloned());
        }
    }

    /// `propertyNames`: each name, as a string instance.
    fn check_property_names(&self, at: &At<'_>, map: &Map<String, Value>, out: &mut Vec<Error>) {
        let At { s, base, ip, sp, depth, .. } = *at;
        if let Some(sub) = s.get("propertyNames") {
            for name in map.keys() {
                self.check(
                    sub,
                    base,
                    &Value::String(name.clone()),
                    ip,
                    &format!("{sp}/propertyNames"),
                    depth + 1,
                    out,
                );
            }
        }
    }

    /// `unevaluatedProperties`: the properties no other keyword evaluated.
    fn check_unevaluated_properties(&self, at: &At<'_>, map: &Map<String, Value>, out: &mut Vec<Error>, ev: &mut Evaluated) {
        let At { s, base, ip, sp, depth, err, .. } = *at;
        let child = |name: &str| format!("{ip}/{}", escape_token(name));
        if let Some(sub) = s.get("unevaluatedProperties") {
            let unevaluated: Vec<&String> = map.keys().filter(|k| !ev.props.contains(*k)).collect();
            if sub == &Value::Bool(false) {
                if !unevaluated.is_empty() {
                    let names: Vec<String> = unevaluated.iter().map(|k| k.to_string()).collect();
                    err(
                        out,
                        "unevaluatedProperties",
                        format!(
                            "Unevaluated properties are not allowed ({} unexpected)",
                            quoted_list(&names)
                        ),
                    );
                }
            } else {
                for name in &unevaluated {
                    self.check(
                        sub,
                        base,
                        &map[*name],
                        &child(name),
                        &format!("{sp}/unevaluatedProperties"),
                        depth + 1,
                        out,
                    );
                }
            }
            ev.props.extend(unevaluated.into_iter().cloned());
        }
    }
}

/// Where a check stands: the schema object and its base URI, the instance
/// and both paths, the depth, and how to report an error there.
#[derive(Clone, Copy)]
struct At<'a> {
    s: &'a Map<String, Value>,
    base: &'a str,
    inst: &'a Value,
    ip: &'a str,
    sp: &'a str,
    depth: usize,
    err: &'a dyn Fn(&mut Vec<Error>, &str, String),
}

/// `type`, `enum`, `const`: keywords on any instance.
fn check_value(at: &At<'_>, out: &mut Vec<Error>) {
    let At { s, inst, err, .. } = *at;
    match s.get("type") {
        Some(Value::String(t)) if !type_matches(t, inst) => err(
            out,
            "type",
            format!("{} is not of type \"{t}\"", show(inst)),
        ),
        Some(Value::Array(ts)) => {
            let mut names: Vec<&str> = ts.iter().filter_map(Value::as_str).collect();
            names.sort_unstable();
            if !names.iter().any(|t| type_matches(t, inst)) {
                let list: Vec<String> = names.iter().map(|t| format!("\"{t}\"")).collect();
                err(
                    out,
                    "type",
                    format!("{} is not of types {}", show(inst), list.join(", ")),
                );
            }
        }
        _ => {}
    }
    if let Some(Value::Array(options)) = s.get("enum")
        && !options.iter().any(|o| json_eq(o, inst))
    {
        let shown: Vec<String> = options.iter().map(show).collect();
        let list = match shown.len() {
            0 => "nothing".to_string(),
            1..=3 => match shown.split_last() {
                Some((last, [])) => last.clone(),
                Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                None => String::new(),
            },
            n => format!("{} or {} other candidates", shown[..2].join(", "), n - 2),
        };
        err(out, "enum", format!("{} is not one of {list}", show(inst)));
    }
    if let Some(expected) = s.get("const")
        && !json_eq(expected, inst)
    {
        err(out, "const", format!("{} was expected", show(expected)));
    }
}

/// `maxItems`, `minItems`, `uniqueItems`.
fn check_array_counts(at: &At<'_>, items: &[Value], out: &mut Vec<Error>) {
    let At { s, inst, err, .. } = *at;
    let count = items.len() as u64;
    if let Some(max) = as_count(s.get("maxItems"))
        && count > max
    {
        err(
            out,
            "maxItems",
            format!(
                "{} has more than {}",
                show(inst),
                plural(max, "item", "items")
            ),
        );
    }
    if let Some(min) = as_count(s.get("minItems"))
        && count < min
    {
        err(
            out,
            "minItems",
            format!(
                "{} has less than {}",
                show(inst),
                plural(min, "item", "items")
            ),
        );
    }
    if s.get("uniqueItems") == Some(&Value::Bool(true)) {
        let duplicate = (0..items.len())
            .any(|i| (i + 1..items.len()).any(|j| json_eq(&items[i], &items[j])));
        if duplicate {
            err(
                out,
                "uniqueItems",
                format!("{} has non-unique elements", show(inst)),
            );
        }
    }
}

/// `maxProperties`, `minProperties`, `required`, `dependentRequired`.
fn check_object_counts(at: &At<'_>, map: &Map<String, Value>, out: &mut Vec<Error>) {
    let At { s, inst, err, .. } = *at;
    let count = map.len() as u64;
    if let Some(max) = as_count(s.get("maxProperties"))
        && count > max
    {
        err(
            out,
            "maxProperties",
            format!(
                "{} has more than {}",
                show(inst),
                plural(max, "property", "properties")
            ),
        );
    }
    if let Some(min) = as_count(s.get("minProperties"))
        && count < min
    {
        err(
            out,
            "minProperties",
            format!(
                "{} has less than {}",
                show(inst),
                plural(min, "property", "properties")
            ),
        );
    }
    if let Some(Value::Array(required)) = s.get("required") {
        for name in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(name) {
                err(
                    out,
                    "required",
                    format!("\"{name}\" is a required property"),
                );
            }
        }
    }
    if let Some(Value::Object(deps)) = s.get("dependentRequired") {
        for (trigger, needed) in deps {
            if map.contains_key(trigger)
                && let Value::Array(needed) = needed
            {
                for name in needed.iter().filter_map(Value::as_str) {
                    if !map.contains_key(name) {
                        err(
                            out,
                            "dependentRequired",
                            format!("\"{name}\" is a required property"),
                        );
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Formats

mod formats {
    use std::net::{Ipv4Addr, Ipv6Addr};

    pub fn check(format: &str, s: &str) -> bool {
        match format {
            "date-time" => date_time(s),
            "date" => date(s),
            "time" => time(s),
            "email" | "idn-email" => email(s),
            "hostname" => hostname(s),
            "ipv4" => s.parse::<Ipv4Addr>().is_ok(),
            "ipv6" => s.parse::<Ipv6Addr>().is_ok(),
            "uuid" => uuid(s),
            "uri" => uri(s),
            "json-pointer" => s.is_empty() || (s.starts_with('/') && pointer_escapes_ok(s)),
            _ => true,
        }
    }

    fn digits(s: &str, n: usize) -> Option<u32> {
        (s.len() == n && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    }

    fn date(s: &str) -> bool {
        let mut parts = s.split('-');
        let (Some(y), Some(m), Some(d), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        let (Some(y), Some(m), Some(d)) = (digits(y, 4), digits(m, 2), digits(d, 2)) else {
            return false;
        };
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let days = match m {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return false,
        };
        (1..=days).contains(&d)
    }

    fn time(s: &str) -> bool {
        let s = s.to_ascii_uppercase();
        // Minutes east of UTC.
        let (clock, offset) = if let Some(c) = s.strip_suffix('Z') {
            (c, 0i64)
        } else if let Some(pos) = s.rfind(['+', '-']) {
            let Some((h, m)) = s[pos + 1..].split_once(':') else {
                return false;
            };
            let minutes = match (digits(h, 2), digits(m, 2)) {
                (Some(h), Some(m)) if h < 24 && m < 60 => i64::from(h * 60 + m),
                _ => return false,
            };
            (
                &s[..pos],
                if s.as_bytes()[pos] == b'-' {
                    -minutes
                } else {
                    minutes
                },
            )
        } else {
            return false;
        };
        let clock = match clock.split_once('.') {
            Some((c, frac)) if !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit()) => c,
            Some(_) => return false,
            None => clock,
        };
        let mut parts = clock.split(':');
        let (Some(h), Some(m), Some(sec), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        match (digits(h, 2), digits(m, 2), digits(sec, 2)) {
            (Some(h), Some(m), Some(sec)) if h < 24 && m < 60 && sec < 60 => true,
            // A leap second is 23:59:60 UTC.
            (Some(h), Some(m), Some(60)) if h < 24 && m < 60 => {
                (i64::from(h * 60 + m) - offset).rem_euclid(24 * 60) == 23 * 60 + 59
            }
            _ => false,
        }
    }

    fn date_time(s: &str) -> bool {
        match s.find(['T', 't']) {
            Some(pos) => date(&s[..pos]) && time(&s[pos + 1..]),
            None => false,
        }
    }

    fn email(s: &str) -> bool {
        match s.rsplit_once('@') {
            Some((local, domain))
                if local.len() > 2 && local.starts_with('"') && local.ends_with('"') =>
            {
                domain_ok(domain)
            }
            Some((local, domain)) => {
                !local.is_empty()
                    && !local.starts_with('.')
                    && !local.ends_with('.')
                    && !local.contains("..")
                    && !local.chars().any(char::is_whitespace)
                    && domain_ok(domain)
            }
            None => false,
        }
    }

    fn domain_ok(domain: &str) -> bool {
        match domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
            Some(literal) => match literal.strip_prefix("IPv6:") {
                Some(v6) => v6.parse::<Ipv6Addr>().is_ok(),
                None => literal.parse::<Ipv4Addr>().is_ok(),
            },
            None => hostname(domain),
        }
    }

    fn hostname(s: &str) -> bool {
        !s.is_empty()
            && s.len() <= 253
            && s.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && (label.get(2..4) != Some("--")
                        || label.to_ascii_lowercase().starts_with("xn--"))
            })
    }

    fn uuid(s: &str) -> bool {
        let groups: Vec<&str> = s.split('-').collect();
        groups.len() == 5
            && groups
                .iter()
                .zip([8, 4, 4, 4, 12])
                .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
    }

    fn uri(s: &str) -> bool {
        let Some((scheme, rest)) = s.split_once(':') else {
            return false;
        };
        scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            && rest.is_ascii()
            && !rest
                .chars()
                .any(|c| c.is_whitespace() || "<>\"{}|\\^`".contains(c))
            && percent_ok(rest)
    }

    fn percent_ok(s: &str) -> bool {
        let b = s.as_bytes();
        b.iter().enumerate().all(|(i, &c)| {
            c != b'%'
                || (b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
        })
    }

    fn pointer_escapes_ok(s: &str) -> bool {
        let b = s.as_bytes();
        b.iter()
            .enumerate()
            .all(|(i, &c)| c != b'~' || matches!(b.get(i + 1), Some(b'0' | b'1')))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_references_per_rfc_3986() {
        let base = "http://a/b/c/d;p?q";
        for (r, want) in [
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g"),
            ("?y", "http://a/b/c/d;p?y"),
            ("#s", "http://a/b/c/d;p?q#s"),
            ("", "http://a/b/c/d;p?q"),
            ("..", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../../g", "http://a/g"),
            ("../../../g", "http://a/g"),
            ("g;x=1/../y", "http://a/b/c/y"),
            ("urn:x:y", "urn:x:y"),
        ] {
            assert_eq!(resolve(base, r), want, "{r}");
        }
        assert_eq!(
            resolve("file:///workspace/", "schemas/a.json"),
            "file:///workspace/schemas/a.json"
        );
        assert_eq!(
            resolve("file:///workspace/s/a.json", "../b.yaml#/x"),
            "file:///workspace/b.yaml#/x"
        );
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(json_eq(
            &serde_json::json!([1, {"a": 2.0}]),
            &serde_json::json!([1.0, {"a": 2}])
        ));
        assert!(!json_eq(&serde_json::json!(1), &serde_json::json!(true)));
    }
}

/// The official JSON-Schema-Test-Suite, when `JSON_SCHEMA_TEST_SUITE` names a
/// checkout: `cargo test -p json_schema -- --ignored --nocapture`.
/// Cases needing remote references or a draft-specific meta-schema are
/// counted apart; prints the failing cases.
#[cfg(test)]
mod suite {
    use super::*;

    #[test]
    #[ignore = "needs JSON_SCHEMA_TEST_SUITE pointing at a JSON-Schema-Test-Suite checkout"]
    fn json_schema_test_suite() {
        let Ok(root) = std::env::var("JSON_SCHEMA_TEST_SUITE") else {
            panic!("set JSON_SCHEMA_TEST_SUITE to a JSON-Schema-Test-Suite checkout");
        };
        let meta: Value = serde_json::from_str(META_SCHEMA).unwrap();
        let skip_files = [
            "refRemote.json",
            "vocabulary.json",
            "dynamicRef.json",
            "recursiveRef.json",
        ];
        let mut total = (0, 0);
        for (dir, draft) in [
            ("draft2020-12", Draft::Draft2020),
            ("draft2019-09", Draft::Draft2019),
            ("draft7", Draft::Draft7),
            ("draft6", Draft::Draft6),
            ("draft4", Draft::Draft4),
        ] {
            let path = std::path::Path::new(&root).join("tests").join(dir);
            let mut files: Vec<_> = std::fs::read_dir(&path)
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .collect();
            files.sort();
            let (mut pass, mut fail) = (0, 0);
            for file in files {
                let name = file.file_name().unwrap().to_string_lossy().to_string();
                if !name.ends_with(".json") || skip_files.contains(&name.as_str()) {
                    continue;
                }
                let groups: Value =
                    serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
                for group in groups.as_array().unwrap() {
                    let schema = &group["schema"];
                    let draft = match schema.get("$schema").and_then(Value::as_str) {
                        Some(s) => draft_of(s).unwrap_or(draft),
                        None => draft,
                    };
                    let mut store = Store::new(&meta, draft);
                    let uri = "file:///workspace/suite.json";
                    store.add(uri, schema.clone());
                    let v = Validator::new(&store, Formats::None);
                    for case in group["tests"].as_array().unwrap() {
                        let got = v.validate(schema, uri, &case["data"]).is_empty();
                        if got == case["valid"].as_bool().unwrap() {
                            pass += 1;
                        } else {
                            fail += 1;
                            println!(
                                "FAIL {dir}/{name}: {} / {}",
                                group["description"], case["description"]
                            );
                        }
                    }
                }
            }
            println!("{dir}: {pass} passed, {fail} failed");
            total.0 += pass;
            total.1 += fail;
        }
        println!("suite: {} passed, {} failed", total.0, total.1);

        // The formats `check_formats` asserts, in 2020-12's optional tests.
        let (mut pass, mut fail) = (0, 0);
        for name in [
            "date-time",
            "date",
            "time",
            "email",
            "hostname",
            "ipv4",
            "ipv6",
            "uuid",
            "uri",
            "json-pointer",
        ] {
            let file = std::path::Path::new(&root)
                .join(format!("tests/draft2020-12/optional/format/{name}.json"));
            let groups: Value =
                serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            for group in groups.as_array().unwrap() {
                let mut store = Store::new(&meta, Draft::Draft2020);
                store.add("file:///workspace/f.json", group["schema"].clone());
                let v = Validator::new(&store, Formats::All);
                for case in group["tests"].as_array().unwrap() {
                    let got = v
                        .validate(&group["schema"], "file:///workspace/f.json", &case["data"])
                        .is_empty();
                    if got == case["valid"].as_bool().unwrap() {
                        pass += 1;
                    } else {
                        fail += 1;
                        println!(
                            "FORMAT FAIL {name}: {} ({})",
                            case["description"], case["data"]
                        );
                    }
                }
            }
        }
        println!("formats: {pass} passed, {fail} failed");
    }
}

//! What `observability_check` does beside its `Input`, `Output` and `impl Tool` (in `lib.rs`).

use super::*;

#[derive(Default)]
pub(crate) struct Check {
    pub(crate) findings: Vec<Finding>,
    pub(crate) checked: Vec<String>,
}

pub struct Endpoint {
    pub op: String,
    pub method: String,
    pub path: String,
}

/// What `app/telemetry.py` declares: operation → (method, route, line);
/// metric → (labels, line).
pub struct Telemetry {
    pub endpoints: BTreeMap<String, (String, String, usize)>,
    pub metrics: BTreeMap<String, (Vec<String>, usize)>,
}

/// A query: where it is, its expression, and what it is for.
pub struct Query {
    pub pointer: String,
    pub expr: String,
    pub operation: Option<String>,
}

pub struct Rules {
    pub queries: Vec<Query>,
    pub recorded: BTreeSet<String>,
    pub loc: Locations,
}

pub struct Panels {
    /// `(panel pointer, title, queries)`.
    pub panels: Vec<(String, String, Vec<Query>)>,
    pub loc: Locations,
}

pub(crate) const KEYWORDS: [&str; 11] = ["by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"];
/// Aggregation operators: `sum by (le) (…)` puts the clause between the name and its `(`.
pub(crate) const AGGREGATIONS: [&str; 14] = [
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio",
];

/// The metric names a PromQL expression reads (label matchers, strings,
/// grouping clauses, range selectors, functions and keywords removed).
pub fn metric_names(expr: &str) -> Vec<String> {
    let mut cleaned = String::with_capacity(expr.len());
    let mut depth_brace = 0;
    let mut depth_bracket = 0;
    let mut in_str: Option<char> = None;
    for c in expr.chars() {
        if let Some(q) = in_str {
            if c == q {
                in_str = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => in_str = Some(c),
            '{' => depth_brace += 1,
            '}' => depth_brace -= 1,
            '[' => depth_bracket += 1,
            ']' => depth_bracket -= 1,
            _ if depth_brace > 0 || depth_bracket > 0 => {}
            _ => cleaned.push(c),
        }
        if matches!(c, '{' | '}' | '[' | ']') {
            cleaned.push(' ');
        }
    }
    let chars: Vec<char> = cleaned.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut skip_group = false;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut j = i;
            while j < chars.len() && chars[j] == ' ' {
                j += 1;
            }
            let call = j < chars.len() && chars[j] == '(';
            if KEYWORDS.contains(&word.as_str()) {
                // `by (le)`, `on (x)`: the parenthesised labels are not metrics.
                skip_group = call;
            } else if skip_group {
                // Inside a grouping clause.
            } else if !call && !AGGREGATIONS.contains(&word.as_str()) && !(word.starts_with(|c: char| c.is_ascii_digit())) && word != "e" && word != "Inf" && word != "NaN" && word != "inf" {
                out.push(word);
            }
            continue;
        }
        if c == ')' {
            skip_group = false;
        }
        i += 1;
    }
    out.sort();
    out.dedup();
    out
}

pub(crate) fn strip_suffix(name: &str) -> &str {
    for s in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(s) {
            return base;
        }
    }
    name
}

pub(crate) fn selects(expr: &str, op: &str) -> bool {
    expr.contains(&format!("operation=\"{op}\"")) || expr.contains(&format!("operation='{op}'"))
}

impl Check {
    pub(crate) fn read(&mut self, path: &str, what: &str) -> Option<String> {
        if !source::exists(path) {
            self.findings.push(Finding::new(path, "", format!("missing: {what}")));
            return None;
        }
        let text = source::read_workspace("file", path).ok()?;
        self.checked.push(path.to_string());
        Some(text)
    }

    pub(crate) fn parse(&mut self, path: &str, text: &str) -> Option<Value> {
        let format = source::format_of(path).unwrap_or(source::Format::Json);
        match source::decode::<Value>(path, format, text) {
            Ok(v) => Some(v),
            Err(m) => {
                self.findings.push(Finding::new(path, "", format!("does not parse: {m}")));
                None
            }
        }
    }

    pub(crate) fn at(&mut self, file: &str, loc: &Locations, pointer: &str, message: String) {
        self.findings.push(Finding::new(file, loc.describe(pointer), message));
    }

    pub(crate) fn endpoints(&mut self) -> Vec<Endpoint> {
        let Some(text) = self.read(paths::OPENAPI, "the API contract lists the endpoints to observe (openapi_gen writes it)") else {
            return Vec::new();
        };
        let Some(doc) = self.parse(paths::OPENAPI, &text) else { return Vec::new() };
        let mut out = Vec::new();
        for (path, item) in doc.get("paths").and_then(Value::as_object).into_iter().flatten() {
            for method in ["get", "put", "post", "delete", "options", "head", "patch", "trace"] {
                if let Some(op) = item.get(method).and_then(|o| o.get("operationId")).and_then(Value::as_str) {
                    out.push(Endpoint { op: op.to_string(), method: method.to_ascii_uppercase(), path: path.clone() });
                }
            }
        }
        out
    }

    pub(crate) fn telemetry(&mut self) -> Option<Telemetry> {
        let file = paths::TELEMETRY_MODULE;
        let text = self.read(file, "the app's telemetry (otel_instrument writes it)")?;
        let mut t = Telemetry { endpoints: BTreeMap::new(), metrics: BTreeMap::new() };
        let mut section = "";
        let mut offset = 0;
        for line in text.lines() {
            let trimmed = line.trim_start();
            if line.starts_with("ENDPOINTS") {
                section = "endpoints";
            } else if line.starts_with("METRICS") {
                section = "metrics";
            } else if line.starts_with('}') {
                section = "";
            } else if !section.is_empty() && trimmed.starts_with('"') {
                let (lineno, _) = line_col(&text, offset);
                let key: String = trimmed[1..].chars().take_while(|c| *c != '"').collect();
                let field = |name: &str| -> Option<String> {
                    let at = trimmed.find(&format!("\"{name}\": \""))? + name.len() + 5;
                    Some(trimmed[at..].chars().take_while(|c| *c != '"').collect())
                };
                if section == "endpoints" {
                    t.endpoints.insert(key, (field("method").unwrap_or_default(), field("route").unwrap_or_default(), lineno));
                } else {
                    let labels = trimmed
                        .find("\"labels\": (")
                        .map(|at| {
                            trimmed[at + 11..]
                                .split(')')
                                .next()
                                .unwrap_or("")
                                .split(',')
                                .map(|s| s.trim().trim_matches('"').to_string())
                                .filter(|s| !s.is_empty())
                                .collect()
                        })
                        .unwrap_or_default();
                    t.metrics.insert(key, (labels, lineno));
                }
            }
            offset += line.len() + 1;
        }
        if t.endpoints.is_empty() {
            self.findings.push(Finding::new(file, "", "no `ENDPOINTS` table: requests are not measured per endpoint"));
        }
        if t.metrics.is_empty() {
            self.findings.push(Finding::new(file, "", "no `METRICS` table: no metric is declared"));
        } else if !t.metrics.values().any(|(labels, _)| labels.iter().any(|l| l == "operation")) {
            self.findings.push(Finding::new(file, "", "no declared metric is labelled by `operation`"));
        }
        Some(t)
    }

    pub(crate) fn rules(&mut self) -> Option<Rules> {
        let file = paths::PROM_RULES;
        let text = self.read(file, "the Prometheus rules (prom_rules writes them)")?;
        let doc = self.parse(file, &text)?;
        let loc = locate::index(&text);
        let mut r = Rules { queries: Vec::new(), recorded: BTreeSet::new(), loc: Locations::default() };
        let Some(groups) = doc.get("groups").and_then(Value::as_array) else {
            self.at(file, &loc, "", "no `groups` list".into());
            return Some(Rules { loc, ..r });
        };
        let duration = |s: &str| {
            let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
            !digits.is_empty() && ["ms", "s", "m", "h", "d", "w", "y"].contains(&&s[digits.len()..])
        };
        for (gi, g) in groups.iter().enumerate() {
            let gp = format!("/groups/{gi}");
            if g.get("name").and_then(Value::as_str).is_none_or(str::is_empty) {
                self.at(file, &loc, &gp, format!("{gp}: a group needs a `name`"));
            }
            let Some(rules) = g.get("rules").and_then(Value::as_array) else {
                self.at(file, &loc, &gp, format!("{gp}: a group needs a `rules` list"));
                continue;
            };
            for (ri, rule) in rules.iter().enumerate() {
                let rp = format!("{gp}/rules/{ri}");
                let record = rule.get("record").and_then(Value::as_str);
                let alert = rule.get("alert").and_then(Value::as_str);
                if record.is_some() == alert.is_some() {
                    self.at(file, &loc, &rp, format!("{rp}: a rule has exactly one of `record` and `alert`"));
                }
                if let Some(name) = record {
                    r.recorded.insert(name.to_string());
                }
                let labels_op = rule.pointer("/labels/operation").and_then(Value::as_str).map(str::to_string);
                if alert.is_some() && rule.pointer("/labels/severity").and_then(Value::as_str).is_none() {
                    self.at(file, &loc, &rp, format!("{rp}: alert `{}` has no `severity` label", alert.unwrap_or("")));
                }
                if let Some(f) = rule.get("for")
                    && !f.as_str().is_some_and(duration)
                {
                    self.at(file, &loc, &format!("{rp}/for"), format!("{rp}/for: `{f}` is not a duration (e.g. 5m)"));
                }
                match rule.get("expr").and_then(Value::as_str) {
                    Some(e) if !e.trim().is_empty() => {
                        r.queries.push(Query { pointer: format!("{rp}/expr"), expr: e.to_string(), operation: labels_op })
                    }
                    _ => self.at(file, &loc, &rp, format!("{rp}: no `expr`")),
                }
            }
        }
        Some(Rules { loc, ..r })
    }

    pub(crate) fn panels(&mut self) -> Option<Panels> {
        let file = paths::DASHBOARD;
        let text = self.read(file, "the Grafana dashboard (grafana_panels writes it)")?;
        let doc = self.parse(file, &text)?;
        let loc = locate::index(&text);
        let mut out = Vec::new();
        let mut ids: BTreeMap<i64, String> = BTreeMap::new();
        fn walk(list: &Value, at: &str, out: &mut Vec<(String, Value)>) {
            for (i, p) in list.as_array().map(Vec::as_slice).unwrap_or(&[]).iter().enumerate() {
                let pp = format!("{at}/{i}");
                out.push((pp.clone(), p.clone()));
                if let Some(inner) = p.get("panels") {
                    walk(inner, &format!("{pp}/panels"), out);
                }
            }
        }
        let mut all = Vec::new();
        match doc.get("panels") {
            Some(list) => walk(list, "/panels", &mut all),
            None => self.at(file, &loc, "", "no `panels`".into()),
        }
        for (pp, p) in all {
            if let Some(id) = p.get("id").and_then(Value::as_i64)
                && let Some(first) = ids.insert(id, pp.clone())
            {
                self.at(file, &loc, &format!("{pp}/id"), format!("{pp}: panel id {id} is also the id of {first}"));
            }
            if p.get("type").and_then(Value::as_str) == Some("row") {
                continue;
            }
            let title = p.get("title").and_then(Value::as_str).unwrap_or("").to_string();
            let queries = p
                .get("targets")
                .and_then(Value::as_array)
                .map(|ts| {
                    ts.iter()
                        .enumerate()
                        .filter_map(|(ti, t)| {
                            Some(Query { pointer: format!("{pp}/targets/{ti}/expr"), expr: t.get("expr")?.as_str()?.to_string(), operation: None })
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push((pp, title, queries));
        }
        Some(Panels { panels: out, loc })
    }

    pub(crate) fn cross_check(&mut self, endpoints: &[Endpoint], t: Option<&Telemetry>, rules: Option<&Rules>, panels: Option<&Panels>) {
        let tele = paths::TELEMETRY_MODULE;
        for e in endpoints {
            let label = format!("{} {} ({})", e.method, e.path, e.op);
            if let Some(t) = t {
                match t.endpoints.get(&e.op) {
                    None => self.findings.push(Finding::new(tele, "", format!("no metric for {label}: `{}` is not in ENDPOINTS", e.op))),
                    Some((m, r, line)) if *m != e.method || *r != e.path => self.findings.push(Finding::new(
                        tele,
                        format!("{line}:1"),
                        format!("ENDPOINTS[{}] measures {m} {r}, but the contract says {} {}", e.op, e.method, e.path),
                    )),
                    _ => {}
                }
            }
            if let Some(r) = rules
                && !r.queries.iter().any(|q| q.operation.as_deref() == Some(e.op.as_str()) || selects(&q.expr, &e.op))
            {
                self.findings.push(Finding::new(paths::PROM_RULES, r.loc.describe("/groups"), format!("no rule for {label}")));
            }
            if let Some(p) = panels
                && !p.panels.iter().any(|(_, _, qs)| qs.iter().any(|q| selects(&q.expr, &e.op)))
            {
                self.findings.push(Finding::new(paths::DASHBOARD, p.loc.describe("/panels"), format!("no panel for {label}")));
            }
        }
        let Some(t) = t else { return };
        let ops: BTreeSet<&str> = endpoints.iter().map(|e| e.op.as_str()).collect();
        if !endpoints.is_empty() {
            for (op, (_, _, line)) in &t.endpoints {
                if !ops.contains(op.as_str()) {
                    self.findings.push(Finding::new(tele, format!("{line}:1"), format!("ENDPOINTS[{op}] is not an operation of {}", paths::OPENAPI)));
                }
            }
        }
        let recorded = rules.map(|r| r.recorded.clone()).unwrap_or_default();
        let mut queried: BTreeSet<String> = BTreeSet::new();
        let mut check_names = |this: &mut Check, file: &str, loc: &Locations, q: &Query, panel: bool| {
            for name in metric_names(&q.expr) {
                let base = strip_suffix(&name).to_string();
                if panel {
                    queried.insert(base.clone());
                }
                if name.contains(':') {
                    if !recorded.contains(&name) {
                        this.at(file, loc, &q.pointer, format!("{}: `{name}` is not recorded by any rule", q.pointer));
                    }
                } else if !t.metrics.contains_key(&base) && !t.metrics.contains_key(&name) {
                    this.at(file, loc, &q.pointer, format!("{}: metric `{name}` is not declared in {tele} METRICS", q.pointer));
                }
            }
        };
        if let Some(r) = rules {
            for q in &r.queries {
                check_names(self, paths::PROM_RULES, &r.loc, q, false);
            }
        }
        if let Some(p) = panels {
            for (_, _, qs) in &p.panels {
                for q in qs {
                    check_names(self, paths::DASHBOARD, &p.loc, q, true);
                }
            }
            for (m, (_, line)) in &t.metrics {
                if !queried.contains(m) {
                    self.findings.push(Finding::new(tele, format!("{line}:1"), format!("metric `{m}` has no panel in {}", paths::DASHBOARD)));
                }
            }
        }
    }
}

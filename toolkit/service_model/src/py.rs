//! Python source helpers for the generators: literals and templates.

use serde_json::Value;

/// A Python string literal (double-quoted; JSON escapes are valid Python).
pub fn string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

/// A Python literal for a JSON value (`True`/`False`/`None`).
pub fn literal(v: &Value) -> String {
    match v {
        Value::Null => "None".to_string(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(literal).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> = map.iter().map(|(k, v)| format!("{}: {}", string(k), literal(v))).collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

/// A Python literal spread over lines, indented by `indent` spaces: what a
/// person would write for a nested table.
pub fn literal_pretty(v: &Value, indent: usize) -> String {
    let pad = " ".repeat(indent + 4);
    let end = " ".repeat(indent);
    match v {
        Value::Array(items) if !items.is_empty() => {
            let inner: Vec<String> = items.iter().map(|i| format!("{pad}{},\n", literal_pretty(i, indent + 4))).collect();
            format!("[\n{}{end}]", inner.concat())
        }
        Value::Object(map) if !map.is_empty() => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{pad}{}: {},\n", string(k), literal_pretty(v, indent + 4)))
                .collect();
            format!("{{\n{}{end}}}", inner.concat())
        }
        other => literal(other),
    }
}

/// Fill `@@name@@` placeholders (Python is full of braces, so not `{}`).
/// A placeholder with no value is left as is, which the tests catch.
pub fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (name, value) in vars {
        out = out.replace(&format!("@@{name}@@"), value);
    }
    out
}

/// Indent every non-empty line by `n` spaces.
pub fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines()
        .map(|l| if l.is_empty() { String::new() } else { format!("{pad}{l}") })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn literals() {
        assert_eq!(literal(&json!({"a": [true, null, 1.5, "x\"y"]})), r#"{"a": [True, None, 1.5, "x\"y"]}"#);
        assert_eq!(literal_pretty(&json!({"a": {"b": 1}}), 0), "{\n    \"a\": {\n        \"b\": 1,\n    },\n}");
        assert_eq!(fill("x = @@a@@ + @@b@@", &[("a", "1"), ("b", "2")]), "x = 1 + 2");
        assert_eq!(indent("a\n\nb", 2), "  a\n\n  b");
    }
}

//! A tool's JSON Schemas as the official MCP clients accept them.
//!
//! `describe` returns what schemars wrote for the tool's types. Two shapes
//! of it break real clients: the TypeScript SDK rejects a whole `tools/list`
//! when a property schema is a boolean (`"model": true`, what schemars
//! writes for a `serde_json::Value` field), and the Python SDK wants
//! `"type": "object"` at the root of both schemas. The meaning is kept:
//! `true` becomes `{}` (anything), `false` becomes `{"not": {}}` (nothing).

use serde_json::{Map, Value};

/// Keywords whose value is one schema.
const ONE_SCHEMA: [&str; 7] = ["items", "contains", "not", "if", "then", "else", "propertyNames"];
/// Keywords whose value is a list of schemas.
const SCHEMA_LIST: [&str; 4] = ["allOf", "anyOf", "oneOf", "prefixItems"];
/// Keywords whose value maps names to schemas.
const SCHEMA_MAP: [&str; 5] = ["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"];

/// The input schema: always an object schema (a tool's input is a JSON
/// object: its own fields beside the envelope's).
pub fn input_schema(text: &str) -> Map<String, Value> {
    match parse(text) {
        Some(Value::Object(mut root)) => {
            let is_object = root.get("type").is_none_or(|t| t == "object");
            if !is_object {
                return empty_object();
            }
            root.insert("type".into(), "object".into());
            root
        }
        _ => empty_object(),
    }
}

/// The output schema, when the tool's output is an object (MCP's
/// `structuredContent` is one); `None` for any other output.
pub fn output_schema(text: &str) -> Option<Map<String, Value>> {
    let Some(Value::Object(mut root)) = parse(text) else { return None };
    match root.get("type") {
        Some(t) if t == "object" => Some(root),
        Some(_) => None,
        // No type at the root: an object schema when it names properties.
        None if root.contains_key("properties") => {
            root.insert("type".into(), "object".into());
            Some(root)
        }
        None => None,
    }
}

fn parse(text: &str) -> Option<Value> {
    let mut value: Value = serde_json::from_str(text).ok()?;
    if let Value::Object(map) = &mut value {
        normalise_keywords(map);
    }
    Some(value)
}

fn empty_object() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), "object".into());
    m
}

/// Replace boolean subschemas below `schema` with their object form.
fn normalise_keywords(schema: &mut Map<String, Value>) {
    for (key, value) in schema.iter_mut() {
        let key = key.as_str();
        if ONE_SCHEMA.contains(&key) {
            normalise(value);
        } else if SCHEMA_LIST.contains(&key) {
            if let Value::Array(list) = value {
                list.iter_mut().for_each(normalise);
            }
        } else if SCHEMA_MAP.contains(&key)
            && let Value::Object(map) = value
        {
            map.values_mut().for_each(normalise);
        }
    }
}

fn normalise(schema: &mut Value) {
    match schema {
        Value::Bool(true) => *schema = Value::Object(Map::new()),
        Value::Bool(false) => {
            let mut not = Map::new();
            not.insert("not".into(), Value::Object(Map::new()));
            *schema = Value::Object(not);
        }
        Value::Object(map) => normalise_keywords(map),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn boolean_property_schemas_become_objects_at_any_depth() {
        let text = json!({
            "type": "object",
            "properties": { "model": true, "never": false, "list": { "type": "array", "items": true } },
            "$defs": { "Inner": { "type": "object", "properties": { "any": true }, "additionalProperties": false } },
            "anyOf": [true, { "properties": { "x": true } }]
        })
        .to_string();
        let got = Value::Object(output_schema(&text).unwrap());
        assert_eq!(
            got,
            json!({
                "type": "object",
                "properties": { "model": {}, "never": { "not": {} }, "list": { "type": "array", "items": {} } },
                "$defs": { "Inner": { "type": "object", "properties": { "any": {} }, "additionalProperties": false } },
                "anyOf": [{}, { "properties": { "x": {} } }]
            })
        );
    }

    #[test]
    fn the_root_is_an_object_schema() {
        assert_eq!(Value::Object(input_schema(r#"{"properties":{"a":{"type":"string"}}}"#)), json!({"type":"object","properties":{"a":{"type":"string"}}}));
        assert_eq!(Value::Object(input_schema("true")), json!({"type":"object"}));
        assert_eq!(Value::Object(input_schema("not json")), json!({"type":"object"}));
        assert_eq!(Value::Object(input_schema(r#"{"type":"string"}"#)), json!({"type":"object"}));
        assert_eq!(output_schema(r#"{"properties":{"a":true}}"#).map(Value::Object), Some(json!({"type":"object","properties":{"a":{}}})));
        assert_eq!(output_schema(r#"{"type":"array","items":true}"#), None);
        assert_eq!(output_schema("true"), None);
    }
}

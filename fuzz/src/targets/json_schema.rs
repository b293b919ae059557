//! `json_schema`: the validator plugins share (`toolkit/json_schema`, used
//! by `jsonschema_lint` and `contract_compliance`) against the `jsonschema`
//! crate as an oracle, for draft 2020-12 (the draft a schema without
//! `$schema` gets from both).
//!
//! An input is JSON `{"schema": …, "instances": […]}`; generated ones use
//! only keywords ours supports (its doc comment's list, without `format`
//! and without remote references), patterns from a small set both regex
//! dialects read alike, and instances built from the same small vocabulary
//! of keys, strings and numbers. Mutated inputs may hold anything.
//!
//! Properties (a panic is a crash):
//! - ours never panics, on any schema and instance (the meta-schema check
//!   `jsonschema_lint` runs first is left out on purpose: the validator
//!   must survive schemas that check would refuse);
//! - where the schema keeps to the comparable subset ([`comparable`]) and
//!   the oracle compiles it, both give the same verdict (valid or not) for
//!   every instance.
//!
//! Known, intentional differences, kept out of the comparison:
//! - `format` (ours asserts it only when asked; the oracle's defaults differ);
//! - `pattern`/`patternProperties` outside the fixed set: ours uses
//!   `regex-lite` (no `\p{…}`, no look-around), the oracle ECMA-262 regexes;
//! - `multipleOf` with a non-integer divisor: ours accepts a quotient within
//!   1e-9 of an integer (so `0.3` is a multiple of `0.1`), the oracle
//!   computes exactly;
//! - numbers beyond ±2^53 in instances or schemas (f64 rounding, where the
//!   oracle may compare exactly);
//! - remote `$ref`s, `$dynamicRef`, `$recursiveRef`, `$anchor`, `$id`,
//!   `$vocabulary` (ours resolves dynamic references statically);
//! - `$ref`s other than to `#/$defs/d`, and a `d` that refers on: a
//!   reference cycle might recurse without bound in the oracle, and a stack
//!   overflow aborts the fuzzer instead of panicking (ours detects cycles;
//!   it still runs on every such schema).

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};
use json_schema::{Draft, Formats, META_SCHEMA, Store, Validator};

use crate::engine::{Feedback, Target};

const BASE: &str = "file:///workspace/schema.json";

/// Patterns both `regex-lite` and ECMA-262 read the same way.
const PATTERNS: &[&str] = &["^a", "b$", "^[a-z]*$", "[0-9]", "^.{2}$", "a|b", "^x-", "^$", "c+"];
const KEYS: &[&str] = &["a", "b", "c", "x-1", ""];
const STRINGS: &[&str] = &["", "a", "ab", "abc", "b", "x-1", "é", "A1", "aaaa", "🎉"];

const DICTIONARY: &[&str] = &[
    "\"type\":", "\"enum\":", "\"const\":", "\"minimum\":", "\"maximum\":", "\"exclusiveMinimum\":",
    "\"exclusiveMaximum\":", "\"multipleOf\":", "\"minLength\":", "\"maxLength\":", "\"pattern\":",
    "\"minItems\":", "\"maxItems\":", "\"uniqueItems\":true", "\"items\":", "\"prefixItems\":", "\"contains\":",
    "\"minContains\":", "\"maxContains\":", "\"properties\":", "\"patternProperties\":",
    "\"additionalProperties\":", "\"required\":", "\"minProperties\":", "\"maxProperties\":",
    "\"propertyNames\":", "\"dependentRequired\":", "\"dependentSchemas\":", "\"allOf\":", "\"anyOf\":",
    "\"oneOf\":", "\"not\":", "\"if\":", "\"then\":", "\"else\":", "\"unevaluatedProperties\":",
    "\"unevaluatedItems\":", "\"$ref\":\"#\"", "\"$ref\":\"#/$defs/d\"", "\"$defs\":", "\"$id\":", "\"$anchor\":",
    "\"$dynamicRef\":", "\"format\":", "\"string\"", "\"integer\"", "\"number\"", "\"object\"", "\"array\"",
    "\"boolean\"", "\"null\"", "true", "false", "null", "{}", "[]", "0", "-1", "1.5", "1e308", "{", "}", "[", "]",
    ",", ":",
];

pub fn target() -> Target {
    Target { name: "json_schema", run, generate: Some(generate), seeds, dictionary: DICTIONARY, max_len: 16 << 10 }
}

fn seeds() -> Vec<Vec<u8>> {
    [
        json!({ "schema": { "type": "object", "required": ["a"], "properties": { "a": { "type": "integer", "minimum": 0 } },
            "additionalProperties": false }, "instances": [{ "a": 1 }, { "a": -1 }, { "b": 1 }, []] }),
        json!({ "schema": { "$defs": { "d": { "type": "string", "minLength": 2 } }, "type": "array", "prefixItems": [{ "$ref": "#/$defs/d" }],
            "items": { "type": "integer" }, "contains": { "const": 5 }, "maxContains": 1 }, "instances": [["ab", 5], ["a", 5, 5], []] }),
        json!({ "schema": { "oneOf": [{ "required": ["a"] }, { "required": ["b"] }], "unevaluatedProperties": false,
            "properties": { "a": true, "b": true } }, "instances": [{ "a": 1 }, { "a": 1, "b": 2 }, { "c": 1 }] }),
        json!({ "schema": { "if": { "properties": { "a": { "const": 2 } }, "required": ["a"] }, "then": { "required": ["b"] },
            "else": { "not": { "required": ["b"] } }, "dependentRequired": { "c": ["a"] } }, "instances": [{ "a": 2 }, { "a": 1, "b": 1 }, { "c": 1 }] }),
    ]
    .iter()
    .map(|v| serde_json::to_vec(v).unwrap())
    .collect()
}

fn small_number() -> impl Strategy<Value = Value> {
    prop_oneof![(-3i64..=5).prop_map(Value::from), (-6i64..=10).prop_map(|n| Value::from(n as f64 / 2.0))]
}

fn instance() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        small_number(),
        proptest::sample::select(STRINGS).prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(proptest::sample::select(KEYS), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

fn type_name() -> impl Strategy<Value = Value> {
    proptest::sample::select(&["null", "boolean", "object", "array", "number", "string", "integer"][..]).prop_map(Value::from)
}

fn count() -> impl Strategy<Value = Value> {
    (0u64..4).prop_map(Value::from)
}

fn key() -> impl Strategy<Value = String> {
    proptest::sample::select(KEYS).prop_map(str::to_string)
}

/// A keyword that asserts without subschemas.
fn assertion() -> impl Strategy<Value = (String, Value)> {
    prop_oneof![
        prop_oneof![type_name(), vec(type_name(), 1..3).prop_map(Value::Array)].prop_map(|t| ("type".into(), t)),
        vec(instance(), 1..4).prop_map(|v| ("enum".into(), Value::Array(v))),
        instance().prop_map(|v| ("const".into(), v)),
        (proptest::sample::select(&["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"][..]), small_number())
            .prop_map(|(k, v)| (k.to_string(), v)),
        (1u64..5).prop_map(|v| ("multipleOf".into(), Value::from(v))),
        (proptest::sample::select(&["minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties", "minContains", "maxContains"][..]), count())
            .prop_map(|(k, v)| (k.to_string(), v)),
        proptest::sample::select(PATTERNS).prop_map(|p| ("pattern".into(), Value::from(p))),
        any::<bool>().prop_map(|b| ("uniqueItems".into(), Value::Bool(b))),
        vec(key(), 0..3).prop_map(|v| ("required".into(), json!(v))),
        btree_map(key(), vec(key(), 0..3), 1..3).prop_map(|m| ("dependentRequired".into(), json!(m))),
        Just(("$ref".to_string(), json!("#/$defs/d"))),
    ]
}

fn object(entries: Vec<(String, Value)>) -> Value {
    Value::Object(entries.into_iter().collect())
}

fn schema() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        1 => any::<bool>().prop_map(Value::Bool),
        4 => vec(assertion(), 1..3).prop_map(object),
    ];
    leaf.prop_recursive(4, 40, 4, |inner| {
        let sub = inner.clone();
        let applicator = prop_oneof![
            assertion(),
            (proptest::sample::select(&["not", "items", "contains", "additionalProperties", "propertyNames", "unevaluatedProperties", "unevaluatedItems", "if", "then", "else"][..]), sub.clone())
                .prop_map(|(k, s)| (k.to_string(), s)),
            (proptest::sample::select(&["allOf", "anyOf", "oneOf", "prefixItems"][..]), vec(sub.clone(), 1..4))
                .prop_map(|(k, v)| (k.to_string(), Value::Array(v))),
            btree_map(key(), sub.clone(), 1..3).prop_map(|m| ("properties".into(), json!(m))),
            btree_map(key(), sub.clone(), 1..3).prop_map(|m| ("dependentSchemas".into(), json!(m))),
            btree_map(proptest::sample::select(PATTERNS).prop_map(str::to_string), sub, 1..3)
                .prop_map(|m| ("patternProperties".into(), json!(m))),
        ];
        vec(applicator, 1..4).prop_map(object)
    })
}

/// A root schema (with `$defs/d` for the `$ref`s) and instances, as JSON bytes.
fn generate(runner: &mut TestRunner) -> Vec<u8> {
    let defs = vec(assertion().prop_filter("no $ref in $defs/d", |(k, _)| k != "$ref"), 0..3).prop_map(object);
    let strategy = (schema(), defs, vec(instance(), 1..6)).prop_map(|(mut schema, d, instances)| {
        if let Value::Object(m) = &mut schema {
            m.insert("$defs".into(), json!({ "d": d }));
        } else {
            schema = json!({ "allOf": [schema], "$defs": { "d": d } });
        }
        serde_json::to_vec(&json!({ "schema": schema, "instances": instances })).unwrap()
    });
    strategy.new_tree(runner).map(|t| t.current()).unwrap_or_default()
}

const SUBSCHEMA: &[&str] = &[
    "not", "items", "contains", "additionalProperties", "propertyNames", "unevaluatedProperties", "unevaluatedItems",
    "if", "then", "else",
];
const SUBSCHEMA_LISTS: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems"];
const SUBSCHEMA_MAPS: &[&str] = &["properties", "dependentSchemas", "patternProperties", "$defs"];
const ASSERTIONS: &[&str] = &[
    "type", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength",
    "maxLength", "minItems", "maxItems", "minProperties", "maxProperties", "minContains", "maxContains", "pattern",
    "uniqueItems", "required", "dependentRequired",
];

/// Numbers both sides hold exactly: integers and halves within ±2^53.
fn plain_number(v: &Value) -> bool {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.unsigned_abs() <= 1 << 53
            } else if n.as_u64().is_some() {
                false
            } else {
                n.as_f64().is_some_and(|f| f.abs() <= (1u64 << 53) as f64 && (f * 2.0).fract() == 0.0)
            }
        }
        Value::Array(items) => items.iter().all(plain_number),
        Value::Object(m) => m.values().all(plain_number),
        _ => true,
    }
}

/// Whether `schema` keeps to the keywords and values the comparison trusts.
pub fn comparable(schema: &Value) -> bool {
    match schema {
        Value::Bool(_) => true,
        Value::Object(m) => m.iter().all(|(k, v)| match k.as_str() {
            k if SUBSCHEMA.contains(&k) => comparable(v),
            k if SUBSCHEMA_LISTS.contains(&k) => v.as_array().is_some_and(|a| a.iter().all(comparable)),
            "patternProperties" => v.as_object().is_some_and(|o| o.iter().all(|(p, s)| PATTERNS.contains(&p.as_str()) && comparable(s))),
            k if SUBSCHEMA_MAPS.contains(&k) => v.as_object().is_some_and(|o| o.values().all(comparable)),
            "pattern" => v.as_str().is_some_and(|p| PATTERNS.contains(&p)),
            "multipleOf" => v.as_u64().is_some_and(|n| n > 0 && n <= 1 << 53),
            // Only the one definition, which itself refers to nothing: a
            // cycle could overflow the oracle's stack (an abort, not a panic).
            "$ref" => v.as_str() == Some("#/$defs/d"),
            k if ASSERTIONS.contains(&k) => plain_number(v),
            _ => false,
        }),
        _ => false,
    }
}

fn ours(schema: &Value, instance: &Value) -> bool {
    thread_local! {
        static META: Value = serde_json::from_str(META_SCHEMA).expect("the meta-schema parses");
    }
    META.with(|meta| {
        let mut store = Store::new(meta, Draft::Draft2020);
        store.add(BASE, schema.clone());
        Validator::new(&store, Formats::None).validate(schema, BASE, instance).is_empty()
    })
}

pub fn run(input: &[u8], fb: &mut Feedback) {
    let Ok(doc) = serde_json::from_slice::<Value>(input) else {
        fb.note("not-json");
        return;
    };
    let (schema, instances) = match &doc {
        Value::Object(m) if m.contains_key("schema") => {
            let instances = match m.get("instances") {
                Some(Value::Array(a)) => a.clone(),
                Some(v) => vec![v.clone()],
                None => vec![Value::Null],
            };
            (m["schema"].clone(), instances)
        }
        other => (other.clone(), vec![Value::Null, json!({}), json!([]), json!("a"), json!(1)]),
    };
    let verdicts: Vec<bool> = instances.iter().map(|i| ours(&schema, i)).collect();
    for (i, v) in verdicts.iter().enumerate() {
        fb.note(("verdict", i.min(3), *v));
    }
    if let Value::Object(m) = &schema {
        for k in m.keys() {
            fb.note(("keyword", k.as_str()));
        }
    }
    let refers = |v: &Value| v.to_string().contains("\"$ref\"");
    let compare = comparable(&schema)
        && schema.pointer("/$defs/d").is_none_or(|d| !refers(d))
        && instances.iter().all(plain_number);
    if !compare {
        return;
    }
    // The oracle: its own panics (on inputs outside what it promises) are not ours.
    let oracle = std::panic::catch_unwind(|| {
        let v = jsonschema::draft202012::new(&schema).ok()?;
        Some(instances.iter().map(|i| v.is_valid(i)).collect::<Vec<bool>>())
    });
    let Ok(Some(expected)) = oracle else {
        fb.note("oracle-refused");
        return;
    };
    fb.note("compared");
    for ((instance, got), want) in instances.iter().zip(&verdicts).zip(&expected) {
        assert_eq!(
            got, want,
            "verdicts differ (ours {got}, jsonschema {want})\nschema:   {schema}\ninstance: {instance}"
        );
    }
}

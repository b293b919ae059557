//! `envelope`: the bus wire (`taylordash::bus::envelope::Wire`) and message
//! signing (`taylordash::bus::auth::BusAuth`), on JSON mutated from real
//! envelopes and on envelopes generated field by field.
//!
//! Properties (a panic is a crash):
//! - decoding never panics, for task, result, dead-letter, gate-status and
//!   untyped payloads; bytes over the limit are refused as `Oversized`
//!   before they are parsed;
//! - a decoded envelope re-encodes, the encoding decodes to the same
//!   envelope, and encoding that again gives identical bytes (a verified
//!   message's content survives a relay unchanged); its `traceparent`, when
//!   it has one, parses back to its ids; `to_task`, `into_outcome` and its
//!   MQTT properties never panic;
//! - a signed message verifies, with the input as its payload; the same
//!   message with one bit flipped in its payload, topic, response topic or
//!   correlation data never verifies; with one bit flipped in the tag it
//!   verifies only if the flip is a letter's case in a hex field (the same
//!   key id excepted: the tag then decodes to the very same key, expiry,
//!   nonce and MAC — known, harmless);
//! - recorded once, the same message is refused as a replay;
//! - the input taken as a `td-auth` tag (or a `traceparent`) never panics
//!   and never verifies.

use bytes::Bytes;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use taylordash::bus::auth::{AUTH_PROPERTY, AuthError, BusAuth, BusKey, Record};
use taylordash::bus::envelope::{
    self, DlqPayload, Envelope, EnvelopeError, GateStatus, MAX_MESSAGE, ResultEnvelope, ResultWire, TaskEnvelope,
    TaskWire, Wire,
};

use crate::engine::{Feedback, Target};

const DICTIONARY: &[&str] = &[
    "\"msg_id\":", "\"run_id\":", "\"task_id\":", "\"agent_id\":", "\"tool\":", "\"attempt\":", "\"seq\":",
    "\"trace_id\":", "\"span_id\":", "\"parent_span_id\":", "\"deadline\":", "\"payload\":", "\"input\":",
    "\"timeout_ms\":", "\"stage\":", "\"workspace\":", "\"staging\":", "\"files\":", "\"blobs_from\":",
    "\"status\":\"ok\"", "\"status\":\"failed\"", "\"status\":\"claimed\"", "\"output\":", "\"logs\":[]",
    "\"events\":[]", "\"usage\":{}", "\"out\":", "\"message\":", "\"exit_code\":", "\"retryable\":true",
    "\"timed_out\":false", "\"worker\":", "\"reason\":", "\"deliveries\":", "\"task\":", "\"gate\":",
    "\"passed\":true", "\"report\":", "\"sha256\":", "\"size\":", "\"mode\":", "\"\\u0000\"", "\"\\ud800\"",
    "\"\\n\"", "null", "true", "18446744073709551615", "18446744073709551616", "-1", "1e999", "{", "}", "[",
    "]", ",", ":", "\"",
];

pub fn target() -> Target {
    Target { name: "envelope", run, generate: Some(generate), seeds, dictionary: DICTIONARY, max_len: 64 << 10 }
}

fn key() -> BusKey {
    BusKey::from_bytes((0u8..32).collect()).expect("a 32-byte key")
}

fn seeds() -> Vec<Vec<u8>> {
    let header = |payload: Value| {
        json!({ "msg_id": "m1", "run_id": "run-1", "task_id": "build/a/echo#1", "agent_id": "a", "tool": "echo",
            "attempt": 1, "seq": 1, "trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331",
            "deadline": 1767225600000u64, "payload": payload })
    };
    let task = json!({ "input": "{\"x\":1}", "timeout_ms": 1500, "stage": "build", "workspace": "/w", "staging": "/s",
        "files": { "files": { "a/b.txt": { "sha256": "00".repeat(32), "size": 3, "mode": 420 } } }, "blobs_from": "node-1" });
    [
        header(task.clone()),
        header(json!({ "status": "ok", "output": "{}", "logs": [{ "level": "info", "message": "hi" }],
            "events": [{ "topic": "docs/update/trigger", "payload": "{}" }], "usage": { "fuel": 7 } })),
        header(json!({ "status": "failed", "message": "boom", "exit_code": 4, "retryable": true, "timed_out": false })),
        header(json!({ "status": "claimed", "worker": "w1" })),
        header(json!({ "reason": "exhausted", "deliveries": 3, "task": task })),
        header(json!({ "stage": "s", "gate": "g", "task_id": "t", "passed": false, "report": { "x": [1.5, null] } })),
    ]
    .iter()
    .map(|v| serde_json::to_vec(v).unwrap())
    .collect()
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z0-9/#_-]{0,12}",
        1 => any::<String>(),
        1 => "[0-9a-f]{16,32}",
        1 => Just(String::new()),
        1 => "[\\x00-\\x1f\u{7f}-\u{9f}]{1,3}",
    ]
}

fn number() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..4, Just(u64::MAX), Just(u32::MAX as u64 + 1), any::<u64>()]
}

/// An envelope of one of the payload kinds, field by field, as JSON bytes.
fn generate(runner: &mut TestRunner) -> Vec<u8> {
    let header = (text(), text(), text(), text(), text(), number(), number(), text(), text(), proptest::option::of(text()), number());
    let task = || {
        (text(), number(), text(), text(), text(), proptest::option::of(text())).prop_map(|(input, timeout, stage, ws, st, from)| {
            json!({ "input": input, "timeout_ms": timeout, "stage": stage, "workspace": ws, "staging": st, "blobs_from": from })
        })
    };
    let result = prop_oneof![
        (text(), text(), text(), number()).prop_map(|(output, level, message, fuel)| json!({ "status": "ok", "output": output,
            "logs": [{ "level": level, "message": message }], "events": [], "usage": { "fuel": fuel } })),
        (text(), any::<i32>(), any::<bool>()).prop_map(|(m, code, r)| json!({ "status": "failed", "message": m, "exit_code": code, "retryable": r, "timed_out": !r })),
        text().prop_map(|w| json!({ "status": "claimed", "worker": w })),
    ];
    let payload = prop_oneof![task(), result, (text(), number(), task()).prop_map(|(r, d, t)| json!({ "reason": r, "deliveries": d, "task": t }))];
    let strategy = (header, payload).prop_map(|((msg, run, task, agent, tool, attempt, seq, trace, span, parent, deadline), payload)| {
        let mut v = json!({ "msg_id": msg, "run_id": run, "task_id": task, "agent_id": agent, "tool": tool,
            "attempt": attempt.min(u32::MAX as u64 + 1), "seq": seq, "trace_id": trace, "span_id": span, "deadline": deadline, "payload": payload });
        if let Some(p) = parent {
            v["parent_span_id"] = json!(p);
        }
        serde_json::to_vec(&v).unwrap()
    });
    strategy.new_tree(runner).map(|t| t.current()).unwrap_or_default()
}

/// Decoding, round trip, and what a decoded envelope is used for.
fn wire<P: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(input: &[u8], kind: &str, fb: &mut Feedback) -> Option<Envelope<P>> {
    match Envelope::<P>::decode(input, MAX_MESSAGE) {
        Ok(env) => {
            fb.note(("decoded", kind));
            let bytes = env.encode(MAX_MESSAGE).unwrap_or_else(|e| panic!("{kind}: a decoded envelope does not encode: {e}"));
            let back = Envelope::<P>::decode(&bytes, MAX_MESSAGE).unwrap_or_else(|e| panic!("{kind}: its own encoding does not decode: {e}"));
            assert_eq!(back, env, "{kind}: decode(encode(env)) != env");
            let again = back.encode(MAX_MESSAGE).unwrap();
            assert_eq!(again, bytes, "{kind}: encoding is not stable");
            if let Some(tp) = env.traceparent() {
                assert_eq!(envelope::parse_traceparent(&tp), Some((env.trace_id.clone(), env.span_id.clone())), "{kind}: traceparent");
            }
            let _ = env.properties(Some("r".into()), Some(Bytes::from_static(b"c")), Some(std::time::Duration::from_secs(u64::MAX)));
            if input.len() > 1 {
                assert!(matches!(Envelope::<P>::decode(input, input.len() - 1), Err(EnvelopeError::Oversized { .. })));
            }
            Some(env)
        }
        Err(EnvelopeError::Oversized { .. }) => panic!("{kind}: {} bytes called oversized", input.len()),
        Err(EnvelopeError::Malformed(m)) => {
            fb.note(("malformed", kind));
            fb.note_message(m.split(" at line").next().unwrap_or(""));
            None
        }
        Err(EnvelopeError::Invalid(m)) => {
            fb.note_message(&m);
            None
        }
    }
}

fn props(response: &str, correlation: &[u8]) -> PublishProperties {
    PublishProperties {
        response_topic: Some(response.to_string()),
        correlation_data: Some(Bytes::copy_from_slice(correlation)),
        ..PublishProperties::default()
    }
}

fn tag_of(p: &PublishProperties) -> String {
    p.user_properties.iter().find(|(k, _)| k == AUTH_PROPERTY).map(|(_, v)| v.clone()).unwrap_or_default()
}

fn set_tag(p: &mut PublishProperties, tag: String) {
    p.user_properties.retain(|(k, _)| k != AUTH_PROPERTY);
    p.user_properties.push((AUTH_PROPERTY.to_string(), tag));
}

fn flip_ascii(s: &str, at: usize, bit: u32) -> String {
    let mut b = s.as_bytes().to_vec();
    if b.is_empty() {
        return "x".into();
    }
    let i = at % b.len();
    b[i] ^= 1 << (bit % 7); // stays ASCII, so stays UTF-8
    String::from_utf8(b).expect("ASCII")
}

fn signing(input: &[u8], fb: &mut Feedback) {
    let auth = BusAuth::new(key());
    let h = {
        use std::hash::{DefaultHasher, Hash, Hasher};
        let mut h = DefaultHasher::new();
        input.hash(&mut h);
        h.finish()
    };
    let topic = "orchestrator/tasks/assign";
    let response = "agents/status/complete/d1";
    let correlation = &input[..input.len().min(16)];
    let exp = taylordash::bus::now_ms() + 60_000;
    let mut p = props(response, correlation);
    auth.sign(topic, &mut p, input, exp);
    auth.verify_parts(topic, &p, input, Record::No).unwrap_or_else(|e| panic!("a fresh signature does not verify: {e}"));

    let at = (h >> 8) as usize;
    let bit = (h & 7) as u32;
    let must_fail = |what: &str, r: Result<_, AuthError>| {
        if r.is_ok() {
            panic!("a message with one bit flipped in its {what} verifies");
        }
    };
    if !input.is_empty() {
        let mut payload = input.to_vec();
        payload[at % input.len()] ^= 1 << bit;
        must_fail("payload", auth.verify_parts(topic, &p, &payload, Record::No));
    }
    must_fail("topic", auth.verify_parts(&flip_ascii(topic, at, bit), &p, input, Record::No));
    let mut q = p.clone();
    q.response_topic = Some(flip_ascii(response, at, bit));
    must_fail("response topic", auth.verify_parts(topic, &q, input, Record::No));
    let mut q = p.clone();
    let mut c = correlation.to_vec();
    if c.is_empty() {
        c.push(0);
    } else {
        let i = at % c.len();
        c[i] ^= 1 << bit;
    }
    q.correlation_data = Some(Bytes::from(c));
    must_fail("correlation data", auth.verify_parts(topic, &q, input, Record::No));

    let tag = tag_of(&p);
    let flipped = flip_ascii(&tag, at, bit);
    let mut q = p.clone();
    set_tag(&mut q, flipped.clone());
    match auth.verify_parts(topic, &q, input, Record::No) {
        Ok(_) => {
            // Only a case flip of a hex digit in nonce or mac is harmless.
            assert_eq!(flipped.to_ascii_lowercase(), tag, "a flipped tag verifies: {tag} -> {flipped}");
            fb.note("tag-case-flip-verifies");
        }
        Err(e) => fb.note(("tag-flip", e.kind())),
    }
    // No td-auth at all; another key.
    let mut q = p.clone();
    q.user_properties.clear();
    assert!(matches!(auth.verify_parts(topic, &q, input, Record::No), Err(AuthError::Unsigned)));
    let other = BusAuth::new(BusKey::from_bytes(vec![7u8; 32]).unwrap());
    assert!(other.verify_parts(topic, &p, input, Record::No).is_err(), "another key's auth accepts the message");

    // Replay.
    auth.verify_parts(topic, &p, input, Record::Yes).unwrap_or_else(|e| panic!("first delivery refused: {e}"));
    assert!(matches!(auth.verify_parts(topic, &p, input, Record::Yes), Err(AuthError::Replayed(_))), "a replay is accepted");

    // The input as a tag and as a traceparent.
    let text = String::from_utf8_lossy(input).into_owned();
    let mut q = p.clone();
    set_tag(&mut q, text.clone());
    match BusAuth::new(key()).verify_parts(topic, &q, input, Record::No) {
        Ok(_) => panic!("the input taken as a tag verifies: {text:?}"),
        Err(e) => fb.note(("as-tag", e.kind())),
    }
    if let Some((trace, span)) = envelope::parse_traceparent(&text) {
        let tp = envelope::traceparent(&trace, &span).unwrap_or_else(|| panic!("ids of a parsed traceparent are not W3C ids: {text:?}"));
        assert_eq!(envelope::parse_traceparent(&tp), Some((trace, span)));
    }
}

pub fn run(input: &[u8], fb: &mut Feedback) {
    if let Some(env) = wire::<envelope::TaskPayload>(input, "task", fb) {
        let _ = TaskEnvelope::to_task(&env);
        let again = TaskEnvelope::for_task(&env.to_task(), &env.msg_id, env.seq, env.deadline);
        assert_eq!(again.payload.input, env.payload.input);
    }
    if let Some(env) = wire::<envelope::ResultPayload>(input, "result", fb) {
        let env: ResultEnvelope = env;
        let _ = env.payload.into_outcome();
    }
    let _ = wire::<DlqPayload>(input, "dlq", fb);
    let _ = wire::<GateStatus>(input, "gate", fb);
    let _ = wire::<Value>(input, "value", fb);
    signing(input, fb);
}

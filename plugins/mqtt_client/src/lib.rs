//! `mqtt_client`: the app's async MQTT publisher — the `backend_dev`
//! agent's second tool, after `fastapi_gen`.
//!
//! Derives the service model from the run's backlog (`backlog` input, or
//! `backlog.json`/`.yaml`/`.yml` in the workspace; see `service_model`) and
//! writes `app/events.py`:
//!
//! - `TOPICS`: each event type's MQTT topic template (from the backlog, e.g.
//!   `tracker/events/{project_id}`), `SCHEMAS`: its JSON Schema file;
//! - `MqttPublisher`: paho-mqtt (MQTT v5, QoS 1, imported lazily), TLS by
//!   default (`mqtts://`, system CA or `MQTT_CA_FILE`), credentials from the
//!   environment only, the event's W3C `traceparent` as a user property, a
//!   publish acknowledged or a `PublishError`;
//! - `MemoryPublisher`: keeps `(topic, event)` messages (tests, no broker);
//! - `create_publisher()`: `MqttPublisher` when `MQTT_URL` is set, else memory;
//! - every publish counted through `app.telemetry.record_publish` when the
//!   telemetry module (`otel_instrument`) is present.
//!
//! Returns the topics. Deterministic.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service_model::{GenInput, ServiceModel, paths, py, source::Out};
use taylordash_sdk::{Context, Level, Tool, ToolError, export_tool};

mod client;
pub use client::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MqttClientOutput {
    /// The module written.
    pub module: String,
    /// `event type: topic template`.
    pub topics: Vec<String>,
    /// Environment variables the module reads.
    pub env: Vec<String>,
    pub files: Vec<String>,
    pub model: Value,
}

pub struct MqttClient;

impl Tool for MqttClient {
    const NAME: &'static str = "mqtt_client";
    const DESCRIPTION: &'static str = "Generates app/events.py, the app's async MQTT v5 publisher (TLS by default, \
         trace context as a user property) for the event types of the run's backlog.";
    type Input = GenInput;
    type Output = MqttClientOutput;

    fn run(input: GenInput, cx: &Context) -> Result<MqttClientOutput, ToolError> {
        let model = input.model(Self::NAME, cx)?;
        let mut out = Out::new();
        out.write(paths::EVENTS_MODULE, &events_py(&model))?;
        let topics: Vec<String> = model.events.iter().map(|e| format!("{}: {}", e.name, e.topic)).collect();
        for t in &topics {
            taylordash_sdk::log(Level::Info, &format!("topic {t}"));
        }
        Ok(MqttClientOutput {
            module: paths::EVENTS_MODULE.into(),
            topics,
            env: ENV.iter().map(|s| s.to_string()).collect(),
            files: out.files,
            model: model.summary(),
        })
    }
}

export_tool!(MqttClient);

#[cfg(test)]
mod tests;

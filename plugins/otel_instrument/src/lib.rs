//! `otel_instrument`: the app's telemetry — the `observability` agent's first
//! tool, running in parallel with `backend_dev` (so it derives the endpoints
//! from the backlog itself, as `fastapi_gen` does).
//!
//! Derives the service model from the run's backlog (`backlog` input, or
//! `backlog.json`/`.yaml`/`.yml` in the workspace; see `service_model`) and
//! writes `app/telemetry.py`:
//!
//! - `ENDPOINTS`: every operation (the `operationId`s of `openapi.yaml`) with
//!   its method, route and SLO (p95 latency, availability);
//! - a dependency-free Prometheus registry with the model's metrics —
//!   `<service>_http_requests_total` and `<service>_http_request_duration_seconds`
//!   labelled by `operation`, and `<service>_mqtt_publish_total` — and
//!   `metrics_text()`, the exposition `/metrics` serves; every endpoint's
//!   series exist from start-up;
//! - `setup(app)`: an ASGI middleware timing and counting every request under
//!   its operation and, when the OpenTelemetry SDK is installed, running it in
//!   a server span that continues the caller's `traceparent` (exported over
//!   OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set);
//! - `record_publish(event_type, result)` for the MQTT publisher.
//!
//! Returns the operations and metrics. Deterministic.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use service_model::{GenInput, MetricKind, ServiceModel, paths, py, source::Out};
use taylordash_sdk::{Context, Level, Tool, ToolError, export_tool};

mod telemetry;
pub use telemetry::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OtelInstrumentOutput {
    pub module: String,
    /// `operationId: METHOD route (p95 ≤ s, availability %)`.
    pub endpoints: Vec<String>,
    /// `name (type)`.
    pub metrics: Vec<String>,
    /// The instrumentation it wrote (the seed's `instrumentation` artifact).
    pub instrumentation: Vec<String>,
    pub files: Vec<String>,
    pub model: Value,
}

pub struct OtelInstrument;

impl Tool for OtelInstrument {
    const NAME: &'static str = "otel_instrument";
    const DESCRIPTION: &'static str = "Generates app/telemetry.py: per-endpoint Prometheus metrics (requests, latency \
         histogram, MQTT publishes) and OpenTelemetry server spans, wired into the app by setup(app).";
    type Input = GenInput;
    type Output = OtelInstrumentOutput;

    fn run(input: GenInput, cx: &Context) -> Result<OtelInstrumentOutput, ToolError> {
        let model = input.model(Self::NAME, cx)?;
        let mut out = Out::new();
        out.write(paths::TELEMETRY_MODULE, &telemetry_py(&model))?;
        let endpoints: Vec<String> = model
            .endpoints
            .iter()
            .map(|e| {
                format!(
                    "{}: {} (p95 <= {}s, {}%)",
                    e.operation_id,
                    e.label(),
                    e.slo.latency_seconds(),
                    e.slo.availability_percent()
                )
            })
            .collect();
        let metrics: Vec<String> = model.metrics.iter().map(|m| format!("{} ({})", m.name, m.kind.as_str())).collect();
        taylordash_sdk::log(
            Level::Info,
            &format!("{}: {} endpoints, {} metrics", paths::TELEMETRY_MODULE, endpoints.len(), metrics.len()),
        );
        Ok(OtelInstrumentOutput {
            module: paths::TELEMETRY_MODULE.into(),
            endpoints,
            metrics,
            instrumentation: out.files.clone(),
            files: out.files,
            model: model.summary(),
        })
    }
}

export_tool!(OtelInstrument);

#[cfg(test)]
mod tests;

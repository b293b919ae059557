//! `healthcheck_gen`: the deployment of the service the backlog describes —
//! the `infra_compose` agent's tool ("Creates docker-compose.yml and health
//! scripts").
//!
//! Derives the service model from the run's backlog (`backlog` input, or
//! `backlog.json`/`.yaml`/`.yml` in the workspace; see `service_model`) and
//! writes, for the artifacts the other generators write:
//!
//! - `docker-compose.yml` at the workspace root: the API (built from the
//!   generated package `app/` by `compose/api.Dockerfile`, served by
//!   `uvicorn app.main:app` on 8000, configured through the variables
//!   `fastapi_gen`, `tsdb_adapter`, `mqtt_client` and `minio_client` read),
//!   Mosquitto (`eclipse-mosquitto:2` with `mosquitto_tls`'s
//!   `conf_snippets/mosquitto/`), TimescaleDB (initialised with
//!   `migrations/`), MinIO, Prometheus (the `prom_rules` rules and a scrape
//!   of the API's metrics endpoint) and Grafana (the `grafana_panels`
//!   dashboard, provisioned). Every service has a `healthcheck`; a service
//!   that needs another waits for it with `condition: service_healthy`.
//!   Secrets are `${VAR:?…}` references (compose refuses to start without
//!   them), never values;
//! - `health_scripts/check_<service>.sh` and `check_all.sh`: POSIX `sh`
//!   scripts (run as `sh health_scripts/x.sh`: files a component writes are
//!   not executable) that work on the host and inside the containers, exit 0
//!   when the service is healthy, else non-zero with a one-line reason, each
//!   bounded by `HEALTH_TIMEOUT` seconds (default 3);
//! - `compose/`: the API's Dockerfile, `prometheus.yml` and Grafana's
//!   provisioning files.
//!
//! Returns the compose file, the scripts and the services. Deterministic.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service_model::{GenInput, ServiceModel, paths, source::Out};
use taylordash_sdk::{Context, Level, Tool, ToolError, export_tool};

mod compose;
mod scripts;
pub use compose::*;
pub use scripts::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HealthcheckGenOutput {
    /// The compose file (the seed's `docker-compose.yml` artifact).
    pub docker_compose: String,
    /// The health scripts (the seed's `health_scripts` artifact), run with `sh`.
    pub health_scripts: Vec<String>,
    /// The compose services, in file order.
    pub services: Vec<String>,
    /// `service: healthcheck command`, one per service.
    pub healthchecks: Vec<String>,
    /// `service -> dependency`: every `depends_on` (all `service_healthy`).
    pub depends_on: Vec<String>,
    /// Variables compose requires (`${VAR:?}`): the secrets, set them in the
    /// environment or an `.env` file beside `docker-compose.yml`.
    pub required_env: Vec<String>,
    /// Every file written into the out dir.
    pub files: Vec<String>,
    pub model: Value,
}

pub struct HealthcheckGen;

impl Tool for HealthcheckGen {
    const NAME: &'static str = "healthcheck_gen";
    const DESCRIPTION: &'static str = "Generates docker-compose.yml (the API, Mosquitto, TimescaleDB, MinIO, Prometheus, \
         Grafana, each with a healthcheck, started in service_healthy order, secrets from the environment) and \
         health_scripts/check_*.sh from the run's backlog.";
    type Input = GenInput;
    type Output = HealthcheckGenOutput;

    fn run(input: GenInput, cx: &Context) -> Result<HealthcheckGenOutput, ToolError> {
        let model = input.model(Self::NAME, cx)?;
        let stack = Stack::new(&model);
        let mut out = Out::new();
        out.write(COMPOSE_FILE, &stack.compose().to_yaml_text())?;
        let mut health_scripts = Vec::new();
        for (path, text) in health_scripts_for(&stack, &model) {
            if path.ends_with(".sh") {
                health_scripts.push(path.clone());
            }
            out.write(&path, &text)?;
        }
        for (path, text) in stack.support_files(&model) {
            out.write(&path, &text)?;
        }
        let healthchecks: Vec<String> = stack.services.iter().map(|s| format!("{}: {}", s.name, s.check.join(" "))).collect();
        let depends_on: Vec<String> =
            stack.services.iter().flat_map(|s| s.depends_on.iter().map(move |d| format!("{} -> {d}", s.name))).collect();
        for s in &stack.services {
            taylordash_sdk::log(Level::Info, &format!("{COMPOSE_FILE}: service {} ({})", s.name, s.image));
        }
        taylordash_sdk::log(
            Level::Info,
            &format!(
                "{} services, {} health scripts; API health probe {} (prom rules {}, dashboard {})",
                stack.services.len(),
                health_scripts.len(),
                stack.health_path,
                paths::PROM_RULES,
                paths::DASHBOARD
            ),
        );
        Ok(HealthcheckGenOutput {
            docker_compose: COMPOSE_FILE.into(),
            health_scripts,
            services: stack.services.iter().map(|s| s.name.to_string()).collect(),
            healthchecks,
            depends_on,
            required_env: stack.required_env(),
            files: out.files,
            model: model.summary(),
        })
    }
}

/// Shared by the compose file and the scripts: the model's names.
pub(crate) fn env_prefix(model: &ServiceModel) -> String {
    model.service.name.to_ascii_uppercase()
}

export_tool!(HealthcheckGen);

#[cfg(test)]
mod tests;

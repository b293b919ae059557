//! `traefik_hsts`: the Traefik v3 dynamic configuration (file provider) that
//! puts the generated API behind TLS with HSTS — a deployment snippet of
//! the `backend_dev` agent.
//!
//! Derives the service model from the run's backlog (`backlog` input, or
//! `backlog.json`/`.yaml`/`.yml` in the workspace; see `service_model`) and
//! writes `conf_snippets/traefik/dynamic.yml`:
//!
//! - router `<service>-api` on the `websecure` entry point, rule
//!   ``Host(`<host>`)``, TLS with the `default` options, through the HSTS
//!   headers middleware to the service; router `<service>-api-http` on `web`
//!   redirects to HTTPS;
//! - service `<service>-api`: a load balancer to the API (`http://api:8000`
//!   by default);
//! - middleware `<service>-hsts` (`headers`): `stsSeconds` (at least one
//!   year; two by default, as the app's own HSTS), `stsIncludeSubdomains`,
//!   `stsPreload`, `forceSTSHeader`, `frameDeny`, `contentTypeNosniff`,
//!   `browserXssFilter`, `referrerPolicy`; `<service>-https-redirect`
//!   (`redirectScheme`);
//! - `tls.options.default`: `minVersion` TLS 1.2 (or 1.3), `sniStrict`, and
//!   for TLS 1.2 the AEAD ECDHE cipher suites only.
//!
//! Inputs beside `backlog`, all optional: `host`, `backend_url`,
//! `sts_seconds`, `tls_min_version`. Returns the routers, the HSTS settings
//! and the TLS floor; the file under the `conf_snippets` key. Deterministic.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service_model::{Doc, ServiceModel, doc, names, source::Out};
use taylordash_sdk::{Context, Level, Tool, ToolError, export_tool};

mod config;
pub use config::*;

/// Where the snippet goes, relative to the workspace.
pub const DYNAMIC_FILE: &str = "conf_snippets/traefik/dynamic.yml";

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct TraefikInput {
    /// The backlog: a workspace-relative `.json`/`.yaml`/`.yml` path or an
    /// inline object. Default: `backlog.json`, `backlog.yaml` or
    /// `backlog.yml` in the workspace root.
    #[serde(default)]
    pub backlog: Option<Value>,
    /// The public host name of the API (the router's ``Host(`…`)`` rule).
    /// Default: `<service>.localhost`.
    #[serde(default)]
    pub host: Option<String>,
    /// Where Traefik forwards requests: an `http://` or `https://` URL without
    /// credentials. Default: `http://api:8000`.
    #[serde(default)]
    pub backend_url: Option<String>,
    /// HSTS max-age in seconds: at least 31536000 (one year). Default: 63072000.
    #[serde(default)]
    pub sts_seconds: Option<u64>,
    /// The oldest TLS version accepted. Default: `VersionTLS12`.
    #[serde(default)]
    pub tls_min_version: Option<TlsVersion>,
    /// Other keys the stage passes (ignored, logged at debug level).
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum TlsVersion {
    #[default]
    VersionTLS12,
    VersionTLS13,
}

impl TlsVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::VersionTLS12 => "VersionTLS12",
            TlsVersion::VersionTLS13 => "VersionTLS13",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Router {
    pub name: String,
    pub rule: String,
    pub entry_points: Vec<String>,
    pub service: String,
    pub middlewares: Vec<String>,
    /// The TLS options it uses (`None`: a plain-HTTP router).
    pub tls_options: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Hsts {
    /// The `headers` middleware that sets it.
    pub middleware: String,
    pub sts_seconds: u64,
    pub include_subdomains: bool,
    pub preload: bool,
    pub force: bool,
    /// The `Strict-Transport-Security` value Traefik sends.
    pub header: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TraefikOutput {
    /// The configuration snippets written (the dynamic configuration file).
    pub conf_snippets: Vec<String>,
    pub routers: Vec<Router>,
    pub hsts: Hsts,
    pub tls_min_version: TlsVersion,
    pub host: String,
    pub backend_url: String,
    pub files: Vec<String>,
    pub model: Value,
}

pub struct TraefikHsts;

impl Tool for TraefikHsts {
    const NAME: &'static str = "traefik_hsts";
    const DESCRIPTION: &'static str = "Generates conf_snippets/traefik/dynamic.yml, a Traefik v3 file-provider configuration: \
         a TLS router for the API on websecure, HSTS (preload) security headers and TLS 1.2+ options.";
    type Input = TraefikInput;
    type Output = TraefikOutput;

    fn run(input: TraefikInput, cx: &Context) -> Result<TraefikOutput, ToolError> {
        service_model::log_envelope(Self::NAME, cx.envelope());
        service_model::log_ignored(Self::NAME, &input.other);
        let settings = Settings::from_input(&input)?;
        let model = service_model::load_model(input.backlog.as_ref())?;
        service_model::log_notes(Self::NAME, &model);
        let plan = Plan::new(&model, settings);
        let mut out = Out::new();
        out.write(DYNAMIC_FILE, &plan.yaml_text(&model))?;
        taylordash_sdk::log(
            Level::Info,
            &format!(
                "{DYNAMIC_FILE}: {} routers for {} → {}, HSTS {}, TLS ≥ {}",
                plan.routers.len(),
                plan.host,
                plan.backend_url,
                plan.hsts.header,
                plan.tls_min_version.as_str()
            ),
        );
        Ok(TraefikOutput {
            conf_snippets: out.files.clone(),
            routers: plan.routers,
            hsts: plan.hsts,
            tls_min_version: plan.tls_min_version,
            host: plan.host,
            backend_url: plan.backend_url,
            files: out.files,
            model: model.summary(),
        })
    }
}

export_tool!(TraefikHsts);

#[cfg(test)]
mod tests;

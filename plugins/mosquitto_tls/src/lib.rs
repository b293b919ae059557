//! `mosquitto_tls`: a Mosquitto 2.x TLS listener for the service's events —
//! the broker side of `mqtt_client`'s publisher (`mqtts://`, `MQTT_CA_FILE`,
//! `MQTT_USERNAME`/`MQTT_PASSWORD`).
//!
//! Derives the service model from the run's backlog (`backlog` input, or
//! `backlog.json`/`.yaml`/`.yml` in the workspace; see `service_model`) and
//! writes `conf_snippets/mosquitto/`:
//!
//! - `mosquitto.conf`: one listener (8883) with TLS only (`cafile`,
//!   `certfile`, `keyfile`, `tls_version tlsv1.2`, `require_certificate
//!   false`), `allow_anonymous false`, a `password_file` (made by the
//!   operator with `mosquitto_passwd`: the tool writes no passwords) and an
//!   `acl_file`;
//! - `acl`: the publishing user (`<service>-api`) may write, the reading user
//!   (`<service>-reader`) may read each event type's topic, its template's
//!   `{placeholders}` as `+` (`tracker/events/{project_id}` →
//!   `tracker/events/+`); nothing else;
//! - `ca.crt`: a fresh CA (its key signs the server certificate and is then
//!   dropped: it is written nowhere, so nobody can issue another certificate
//!   clients would trust), `server.crt`/`server.key`: the broker's
//!   certificate (SANs `localhost`, `127.0.0.1` and the broker's host), ECDSA
//!   P-256 keys drawn from the host's `wasi:random` on every run (see
//!   [`pki`]); `README.md` and `.gitignore` warn that the keys are secrets.
//!
//! Private keys are written, never logged nor returned. Keys, serial numbers
//! and validity dates change on every run; everything else is deterministic.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service_model::{ServiceModel, names, source::Out};
use taylordash_sdk::{Context, Level, Tool, ToolError, export_tool};

mod conf;
pub mod pki;
pub use conf::*;

/// Where the snippets go, relative to the workspace.
pub const DIR: &str = "conf_snippets/mosquitto";

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct MosquittoInput {
    /// The backlog: a workspace-relative `.json`/`.yaml`/`.yml` path or an
    /// inline object. Default: `backlog.json`, `backlog.yaml` or
    /// `backlog.yml` in the workspace root.
    #[serde(default)]
    pub backlog: Option<Value>,
    /// The broker's host name (or IP address) in the deployment: a SAN of the
    /// server certificate beside `localhost` and `127.0.0.1`. Default: `mosquitto`.
    #[serde(default)]
    pub host: Option<String>,
    /// Where the broker finds this directory (the paths in `mosquitto.conf`):
    /// an absolute path. Default: `/mosquitto/config` (the eclipse-mosquitto image's).
    #[serde(default)]
    pub config_dir: Option<String>,
    /// The TLS listener's port. Default: 8883.
    #[serde(default)]
    pub port: Option<u16>,
    /// Other keys the stage passes (ignored, logged at debug level).
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AclUser {
    pub name: String,
    /// `read` or `write`.
    pub access: String,
    pub topics: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MosquittoOutput {
    /// Every file written under `conf_snippets/mosquitto/`.
    pub conf_snippets: Vec<String>,
    /// The TLS listener's port.
    pub listener: u16,
    /// The topic filters of the ACL (one per event type).
    pub acl_topics: Vec<String>,
    pub users: Vec<AclUser>,
    /// The CA certificate clients trust (`MQTT_CA_FILE`).
    pub ca: String,
    pub server_cert: String,
    /// Secrets: keep them out of version control.
    pub private_keys: Vec<String>,
    /// The server certificate's subject alternative names.
    pub san: Vec<String>,
    pub tls_version: String,
    /// SHA-256 of the CA certificate (DER), `AB:CD:…`.
    pub ca_fingerprint: String,
    /// The server certificate's expiry (RFC 3339, UTC).
    pub server_not_after: String,
    pub files: Vec<String>,
    pub model: Value,
}

pub struct MosquittoTls;

impl Tool for MosquittoTls {
    const NAME: &'static str = "mosquitto_tls";
    const DESCRIPTION: &'static str = "Generates conf_snippets/mosquitto/: a Mosquitto TLS listener (8883, TLS 1.2+, no \
         anonymous clients), topic ACLs for the backlog's event topics, and a fresh CA and server certificate.";
    type Input = MosquittoInput;
    type Output = MosquittoOutput;

    fn run(input: MosquittoInput, cx: &Context) -> Result<MosquittoOutput, ToolError> {
        service_model::log_envelope(Self::NAME, cx.envelope());
        service_model::log_ignored(Self::NAME, &input.other);
        let settings = Settings::from_input(&input)?;
        let model = service_model::load_model(input.backlog.as_ref())?;
        service_model::log_notes(Self::NAME, &model);
        let acl = Acl::new(&model);
        if acl.topics.is_empty() {
            taylordash_sdk::log(Level::Warn, "mosquitto_tls: the backlog publishes no events: the ACL grants no topic");
        }
        let sans = settings.sans();
        let pki = pki::Pki::generate(&pki::Subject::for_service(&model.service.title, &settings.host), &sans, pki::now()?)?;

        let mut out = Out::new();
        let file = |name: &str| format!("{DIR}/{name}");
        out.write(&file(CONF_FILE), &mosquitto_conf(&model, &settings, &acl))?;
        out.write(&file(ACL_FILE), &acl.text(&model))?;
        out.write(&file(pki::CA_CERT), &pki.ca_cert_pem)?;
        out.write(&file(pki::SERVER_CERT), &pki.server_cert_pem)?;
        out.write(&file(pki::SERVER_KEY), &pki.server_key_pem)?;
        out.write(&file(README_FILE), &readme(&model, &settings, &acl, &pki))?;
        out.write(&file(".gitignore"), GITIGNORE)?;

        taylordash_sdk::log(
            Level::Info,
            &format!(
                "{DIR}: listener {} (TLS ≥ 1.2, no anonymous clients), CA SHA-256 {}, server certificate for {} until {}, {} ACL topic(s)",
                settings.port,
                pki.ca_fingerprint,
                sans.join(", "),
                pki.server_not_after,
                acl.topics.len()
            ),
        );
        taylordash_sdk::log(
            Level::Warn,
            &format!("{DIR}: {} is a private key: keep it out of version control", pki::SERVER_KEY),
        );
        Ok(MosquittoOutput {
            conf_snippets: out.files.clone(),
            listener: settings.port,
            acl_topics: acl.topics.clone(),
            users: acl.users(),
            ca: file(pki::CA_CERT),
            server_cert: file(pki::SERVER_CERT),
            private_keys: vec![file(pki::SERVER_KEY)],
            san: sans,
            tls_version: TLS_VERSION.into(),
            ca_fingerprint: pki.ca_fingerprint.clone(),
            server_not_after: pki.server_not_after.clone(),
            files: out.files,
            model: model.summary(),
        })
    }
}

/// `<service>-api` / `<service>-reader`: the ACL's users.
pub fn user_prefix(model: &ServiceModel) -> String {
    match names::slug(&model.service.name) {
        p if p.is_empty() => "service".to_string(),
        p => p,
    }
}

export_tool!(MosquittoTls);

#[cfg(test)]
mod tests;

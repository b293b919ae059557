//! `keycloak_admin`: the Keycloak realm the service's API trusts — a realm
//! export Keycloak imports at start-up (`kc.sh start --import-realm`, the
//! file in `data/import/`).
//!
//! Derives the service model from the run's backlog (`backlog` input, or
//! `backlog.json`/`.yaml`/`.yml` in the workspace; see `service_model`) and
//! writes `keycloak/realm-export.json`:
//!
//! - the realm, named after the service (`taylordash`), its frontend URL the
//!   issuer base, so tokens say `iss: <issuer_base>/realms/<realm>`;
//! - realm roles `admin`, `maintainer`, `viewer` (the pipeline's RBAC roles;
//!   `fastapi_gen`'s `app/security.py` lets the first two change data and all
//!   three read);
//! - `<realm>-api`, the API's confidential client, with an audience mapper
//!   (`aud` = the API client) and a realm-roles mapper (`realm_access.roles`
//!   in the access token); `<realm>-dashboard`, the dashboard's public
//!   client (authorization code with PKCE S256, redirect URIs, web origins),
//!   with the same two mappers so its tokens are for the API;
//! - the signing key: an `rsa` key provider whose private key Keycloak reads
//!   from `${<SERVICE>_KEYCLOAK_RSA_PRIVATE_KEY}` at import, the public key
//!   in the realm's `publicKey` (from `public_key_pem`, checked); without a
//!   key an `rsa-generated` provider.
//!
//! Settings: the input, else `keycloak.json` in the workspace
//! (`{"issuer_base", "public_key_pem", "realm", "dashboard_url"}`), else
//! defaults. No secret is written: the client secret and the private key
//! are placeholders. Deterministic.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service_model::{ServiceModel, load_model, log_envelope, log_ignored, log_notes, source::Out};
use taylordash_sdk::{Context, Level, Tool, ToolError, export_tool};

mod pem;
mod realm;
pub use pem::{MIN_BITS, RsaPublicKey, parse_public_key_pem};
pub use realm::*;

/// The tool's input; each setting overrides `keycloak.json`'s.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct KeycloakAdminInput {
    /// The backlog: a workspace-relative `.json`/`.yaml`/`.yml` path or an
    /// inline object. Default: `backlog.json`, `backlog.yaml` or
    /// `backlog.yml` in the workspace root.
    #[serde(default)]
    pub backlog: Option<Value>,
    /// The realm's name. Default: the service's (`taylordash`).
    #[serde(default)]
    pub realm: Option<String>,
    /// Where Keycloak is reached, e.g. `https://sso.example.com`; the issuer
    /// is `<issuer_base>/realms/<realm>`. Default `http://127.0.0.1:8080`.
    #[serde(default)]
    pub issuer_base: Option<String>,
    /// The realm's RSA public key, PEM (`-----BEGIN PUBLIC KEY-----`, at
    /// least 2048 bits). Absent: Keycloak generates the key pair.
    #[serde(default)]
    pub public_key_pem: Option<String>,
    /// The dashboard's origin, e.g. `https://dash.example.com`: its redirect
    /// URIs and web origin. Default `http://127.0.0.1:3000`.
    #[serde(default)]
    pub dashboard_url: Option<String>,
    /// Other keys the stage passes (ignored, logged at debug level).
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct KeycloakAdminOutput {
    /// `keycloak/realm-export.json`.
    pub realm_export: String,
    pub realm: String,
    /// `<issuer_base>/realms/<realm>`: the tokens' `iss`.
    pub issuer: String,
    /// The API client's id: the tokens' `aud`.
    pub audience: String,
    /// The realm roles.
    pub roles: Vec<String>,
    /// The client ids.
    pub clients: Vec<String>,
    /// `rsa` (the key given) or `rsa-generated`.
    pub key_provider: String,
    /// Every file written into the out dir.
    pub files: Vec<String>,
}

pub struct KeycloakAdmin;

impl Tool for KeycloakAdmin {
    const NAME: &'static str = "keycloak_admin";
    const DESCRIPTION: &'static str = "Generates keycloak/realm-export.json: the service's realm with the roles admin, \
         maintainer and viewer, the API's confidential client (audience and realm-roles mappers), the dashboard's \
         public PKCE client and the RS256 signing key, from the run's backlog.";
    type Input = KeycloakAdminInput;
    type Output = KeycloakAdminOutput;

    fn run(input: KeycloakAdminInput, cx: &Context) -> Result<KeycloakAdminOutput, ToolError> {
        log_envelope(Self::NAME, cx.envelope());
        log_ignored(Self::NAME, &input.other);
        let config = Config::load()?;
        let model: ServiceModel = load_model(input.backlog.as_ref())?;
        log_notes(Self::NAME, &model);
        let settings = Settings::resolve(&input, &config, &model)?;
        let realm = realm_export(&model, &settings);
        let mut out = Out::new();
        out.write(REALM_EXPORT, &realm.to_json_text())?;
        let key_provider = settings.key_provider().to_string();
        match &settings.public_key {
            Some(key) => taylordash_sdk::log(
                Level::Info,
                &format!(
                    "{REALM_EXPORT}: realm `{}`, {}-bit RSA public key, private key from ${{{}}} at import",
                    settings.realm,
                    key.bits,
                    settings.private_key_env()
                ),
            ),
            None => taylordash_sdk::log(
                Level::Info,
                &format!("{REALM_EXPORT}: realm `{}`, no public key given: Keycloak generates one (rsa-generated)", settings.realm),
            ),
        }
        Ok(KeycloakAdminOutput {
            realm_export: REALM_EXPORT.into(),
            realm: settings.realm.clone(),
            issuer: settings.issuer(),
            audience: settings.api_client(),
            roles: ROLES.iter().map(|(r, _)| r.to_string()).collect(),
            clients: vec![settings.api_client(), settings.dashboard_client()],
            key_provider,
            files: out.files,
        })
    }
}

export_tool!(KeycloakAdmin);

#[cfg(test)]
mod tests;

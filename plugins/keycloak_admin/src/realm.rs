//! What `keycloak_admin` does beside its `Input`, `Output` and `impl Tool`
//! (in `lib.rs`): `keycloak.json`, the settings (input over file over
//! defaults, each checked) and the realm document.

use serde::Deserialize;
use service_model::{Doc, ServiceModel, doc, names};
use taylordash_sdk::ToolError;

use crate::pem::{RsaPublicKey, parse_public_key_pem};
use crate::KeycloakAdminInput;

/// The realm export, workspace-relative.
pub const REALM_EXPORT: &str = "keycloak/realm-export.json";
/// The workspace file with the defaults of this tool's settings.
pub const CONFIG_FILE: &str = "keycloak.json";
pub const DEFAULT_ISSUER_BASE: &str = "http://127.0.0.1:8080";
pub const DEFAULT_DASHBOARD_URL: &str = "http://127.0.0.1:3000";
/// The realm roles (the pipeline's RBAC roles) and what each may do.
pub const ROLES: [(&str, &str); 3] = [
    ("admin", "reads and changes everything"),
    ("maintainer", "creates, updates and deletes"),
    ("viewer", "reads only"),
];
/// Access tokens live five minutes (Keycloak's default).
pub const ACCESS_TOKEN_LIFESPAN: i64 = 300;

/// `keycloak.json` in the workspace; every key optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub issuer_base: Option<String>,
    #[serde(default)]
    pub public_key_pem: Option<String>,
    #[serde(default)]
    pub realm: Option<String>,
    #[serde(default)]
    pub dashboard_url: Option<String>,
}

impl Config {
    /// `keycloak.json` in the sandbox's workspace; empty when there is none.
    pub fn load() -> Result<Config, ToolError> {
        let text = match std::fs::read(taylordash_sdk::workspace_dir().join(CONFIG_FILE)) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => return Err(ToolError::InvalidInput(format!("{CONFIG_FILE}: cannot read it: {e}"))),
        };
        serde_json::from_slice(&text).map_err(|e| ToolError::InvalidInput(format!("{CONFIG_FILE}: {e}")))
    }
}

/// The checked settings of one realm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub realm: String,
    /// No trailing `/`.
    pub issuer_base: String,
    /// No trailing `/`.
    pub dashboard_url: String,
    pub public_key: Option<RsaPublicKey>,
    pub title: String,
    /// `TAYLORDASH`: the prefix of the environment variables (as `fastapi_gen`'s).
    pub env: String,
}

/// The input's value, else the file's, with where it came from for errors.
fn pick<'a>(input: &'a Option<String>, file: &'a Option<String>, key: &str) -> Option<(&'a str, String)> {
    match (input, file) {
        (Some(v), _) => Some((v.as_str(), key.to_string())),
        (None, Some(v)) => Some((v.as_str(), format!("{CONFIG_FILE}: {key}"))),
        (None, None) => None,
    }
}

/// `http(s)://host[:port][/path]`, no query, fragment or whitespace; trailing `/` dropped.
fn url(value: &str, what: &str, example: &str) -> Result<String, ToolError> {
    let rest = value.strip_prefix("https://").or_else(|| value.strip_prefix("http://"));
    let ok = rest.is_some_and(|r| {
        let host = r.split('/').next().unwrap_or("");
        !host.is_empty()
            && !host.contains('@')
            && r.chars().all(|c| c.is_ascii_graphic() && !"?#\"'\\<>".contains(c))
    });
    if !ok {
        return Err(ToolError::InvalidInput(format!(
            "{what}: `{value}` is not an http(s) URL without query or fragment (e.g. \"{example}\")"
        )));
    }
    Ok(value.trim_end_matches('/').to_string())
}

impl Settings {
    pub fn resolve(input: &KeycloakAdminInput, config: &Config, model: &ServiceModel) -> Result<Settings, ToolError> {
        let realm = match pick(&input.realm, &config.realm, "realm") {
            Some((v, what)) => {
                let ok = (1..=64).contains(&v.len())
                    && v.starts_with(|c: char| c.is_ascii_alphanumeric())
                    && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                    && v != "master";
                if !ok {
                    return Err(ToolError::InvalidInput(format!(
                        "{what}: `{v}` is not a realm name (1 to 64 letters, digits, `-`, `_`, `.`; not `master`)"
                    )));
                }
                v.to_string()
            }
            None => names::slug(&model.service.name),
        };
        let issuer_base = match pick(&input.issuer_base, &config.issuer_base, "issuer_base") {
            Some((v, what)) => url(v, &what, DEFAULT_ISSUER_BASE)?,
            None => DEFAULT_ISSUER_BASE.to_string(),
        };
        let dashboard_url = match pick(&input.dashboard_url, &config.dashboard_url, "dashboard_url") {
            Some((v, what)) => url(v, &what, DEFAULT_DASHBOARD_URL)?,
            None => DEFAULT_DASHBOARD_URL.to_string(),
        };
        let public_key = match pick(&input.public_key_pem, &config.public_key_pem, "public_key_pem") {
            Some((v, what)) => Some(parse_public_key_pem(v).map_err(|m| ToolError::InvalidInput(format!("{what}: {m}")))?),
            None => None,
        };
        Ok(Settings {
            realm,
            issuer_base,
            dashboard_url,
            public_key,
            title: model.service.title.clone(),
            env: model.service.name.to_ascii_uppercase(),
        })
    }

    pub fn issuer(&self) -> String {
        format!("{}/realms/{}", self.issuer_base, self.realm)
    }

    pub fn api_client(&self) -> String {
        format!("{}-api", self.realm)
    }

    pub fn dashboard_client(&self) -> String {
        format!("{}-dashboard", self.realm)
    }

    pub fn key_provider(&self) -> &'static str {
        if self.public_key.is_some() { "rsa" } else { "rsa-generated" }
    }

    /// The variable Keycloak reads the realm's private key from at import.
    pub fn private_key_env(&self) -> String {
        format!("{}_KEYCLOAK_RSA_PRIVATE_KEY", self.env)
    }

    /// The variable Keycloak reads the API client's secret from at import.
    pub fn client_secret_env(&self) -> String {
        format!("{}_KEYCLOAK_API_CLIENT_SECRET", self.env)
    }
}

/// `aud` = the API client, in access tokens (and introspection), not ID tokens.
fn audience_mapper(api: &str) -> Doc {
    doc!({
        "name": (format!("audience {api}")),
        "protocol": "openid-connect",
        "protocolMapper": "oidc-audience-mapper",
        "consentRequired": false,
        "config": {
            "included.client.audience": api,
            "access.token.claim": "true",
            "id.token.claim": "false",
            "introspection.token.claim": "true"
        }
    })
}

/// The user's realm roles as `realm_access.roles` in the access token.
fn realm_roles_mapper() -> Doc {
    doc!({
        "name": "realm roles",
        "protocol": "openid-connect",
        "protocolMapper": "oidc-usermodel-realm-role-mapper",
        "consentRequired": false,
        "config": {
            "claim.name": "realm_access.roles",
            "jsonType.label": "String",
            "multivalued": "true",
            "access.token.claim": "true",
            "id.token.claim": "false",
            "userinfo.token.claim": "true",
            "introspection.token.claim": "true"
        }
    })
}

/// The realm key: imported (`rsa`, private key from the environment at
/// import) or generated by Keycloak (`rsa-generated`).
fn key_provider(s: &Settings) -> Doc {
    let mut config = doc!({ "priority": ["100"], "enabled": ["true"], "active": ["true"], "algorithm": ["RS256"] });
    match &s.public_key {
        Some(_) => config.insert("privateKey", doc!([(format!("${{{}}}", s.private_key_env()))])),
        None => config.insert("keySize", doc!(["2048"])),
    }
    doc!({
        "name": (format!("{}-{}", s.key_provider(), s.realm)),
        "providerId": (s.key_provider()),
        "subComponents": {},
        "config": config
    })
}

/// The realm export.
pub fn realm_export(model: &ServiceModel, s: &Settings) -> Doc {
    let api = s.api_client();
    let dashboard = s.dashboard_client();
    let roles: Vec<Doc> = ROLES
        .iter()
        .map(|(name, what)| {
            doc!({
                "name": (*name),
                "description": (format!("{} API: {what}", s.title)),
                "composite": false,
                "clientRole": false
            })
        })
        .collect();
    let api_client = doc!({
        "clientId": (api.as_str()),
        "name": (format!("{} API", s.title)),
        "description": (format!(
            "The {} API (`{}`): the audience of the tokens it accepts. Confidential: machine callers get tokens \
             with client credentials; the secret is ${{{}}} at import.",
            s.title, model.service.api_prefix, s.client_secret_env()
        )),
        "enabled": true,
        "protocol": "openid-connect",
        "publicClient": false,
        "bearerOnly": false,
        "clientAuthenticatorType": "client-secret",
        "secret": (format!("${{{}}}", s.client_secret_env())),
        "standardFlowEnabled": false,
        "implicitFlowEnabled": false,
        "directAccessGrantsEnabled": false,
        "serviceAccountsEnabled": true,
        "fullScopeAllowed": true,
        "attributes": { "access.token.signed.response.alg": "RS256" },
        "protocolMappers": [(audience_mapper(&api)), (realm_roles_mapper())]
    });
    let dashboard_client = doc!({
        "clientId": (dashboard.as_str()),
        "name": (format!("{} dashboard", s.title)),
        "description": "The dashboard: a public client, authorization code with PKCE (S256); its tokens are for the API.",
        "enabled": true,
        "protocol": "openid-connect",
        "publicClient": true,
        "rootUrl": (s.dashboard_url.as_str()),
        "baseUrl": "/",
        "redirectUris": [(format!("{}/*", s.dashboard_url))],
        "webOrigins": [(s.dashboard_url.as_str())],
        "standardFlowEnabled": true,
        "implicitFlowEnabled": false,
        "directAccessGrantsEnabled": false,
        "serviceAccountsEnabled": false,
        "fullScopeAllowed": true,
        "attributes": {
            "pkce.code.challenge.method": "S256",
            "post.logout.redirect.uris": (format!("{}/*", s.dashboard_url)),
            "access.token.signed.response.alg": "RS256"
        },
        "protocolMappers": [(audience_mapper(&api)), (realm_roles_mapper())]
    });
    let mut realm = doc!({
        "realm": (s.realm.as_str()),
        "displayName": (s.title.as_str()),
        "enabled": true,
        "sslRequired": "external",
        "registrationAllowed": false,
        "bruteForceProtected": true,
        "accessTokenLifespan": ACCESS_TOKEN_LIFESPAN,
        "defaultSignatureAlgorithm": "RS256",
        "attributes": { "frontendUrl": (s.issuer_base.as_str()) }
    });
    if let Some(key) = &s.public_key {
        realm.insert("publicKey", key.base64());
    }
    realm.insert("roles", doc!({ "realm": roles }));
    realm.insert("clients", doc!([api_client, dashboard_client]));
    realm.insert("components", doc!({ "org.keycloak.keys.KeyProvider": [(key_provider(s))] }));
    realm
}

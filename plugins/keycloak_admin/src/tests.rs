//! The realm export of the example backlog, key from the input or from
//! `keycloak.json`, and the input errors.

use super::*;
use serde_json::json;
use taylordash_sdk::testing::Harness;

const BACKLOG: &str = include_str!("../../../pipelines/examples/backlog.yaml");

/// A 2048-bit RSA public key (`openssl genrsa 2048 | openssl rsa -pubout`).
const KEY_2048: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA7OBDsHCqYJadIP/c8qvO
z5K8ZVyu4zIlGw3UKX5BfJXDnfp2U1/RQam3V4qYPapNSbSrS1z6S/uYfyvfWmZo
jZfOTQq6a3cMmx5SWKUw42JCM43JZE7KpMW9/zNP5YOra/up1a/zPta6AftzK4Nn
Mr53+OETCzM1oj/jQV28ASrUZfXuULdo6Bz29gPe+3g94wzmokiFDFzboNGuTzkP
AVdxz0RBCh8+xc79EHhyypDjlo0ihxxkvLoPus5uOkIOZpJdj6j98J5qDzbzH0jU
87xcxrVIwZw2nhHyUIuY5xf0TVdPzs5JzBPIZyHiI0VXmpSJ4t0mkJa6+iCLJc2D
AwIDAQAB
-----END PUBLIC KEY-----
";
/// The same key's DER, base64 on one line (`openssl rsa -pubout -outform DER | base64 -w0`).
const KEY_2048_DER: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA7OBDsHCqYJadIP/c8qvOz5K8ZVyu4zIlGw3UKX5BfJXDnfp2U1/RQam3V4qYPapNSbSrS1z6S/uYfyvfWmZojZfOTQq6a3cMmx5SWKUw42JCM43JZE7KpMW9/zNP5YOra/up1a/zPta6AftzK4NnMr53+OETCzM1oj/jQV28ASrUZfXuULdo6Bz29gPe+3g94wzmokiFDFzboNGuTzkPAVdxz0RBCh8+xc79EHhyypDjlo0ihxxkvLoPus5uOkIOZpJdj6j98J5qDzbzH0jU87xcxrVIwZw2nhHyUIuY5xf0TVdPzs5JzBPIZyHiI0VXmpSJ4t0mkJa6+iCLJc2DAwIDAQAB";
const KEY_1024: &str = "-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDBQViELcpJWClzVTPL71ui9ABe
+zmH0pEKlcrqnSAlHMFaF2wcx3tIEdhuj0L+aHi5s2eZqLDFZ12Iec1THfU087KI
saAml0Rds5I3Plw/ujDvRYo7bWJa1ioVrXMpXv0+yW98E9KxqDp3wXzwJBJYKyiS
ROicw98W2tzPHseoZQIDAQAB
-----END PUBLIC KEY-----
";
const KEY_EC: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEK8BK5cYMBNy18JAZMo0kEmwaTBKt
t5kATx+hp0VQ1E1BFA+8c+zyXuwRV1TrIQw9IdUFjTxj8HhUBR3BhUka4Q==
-----END PUBLIC KEY-----
";

fn harness() -> Harness {
    let h = Harness::new();
    h.write_workspace("backlog.yaml", BACKLOG);
    h
}

fn realm_of(h: &Harness) -> Value {
    serde_json::from_str(&h.out_file(REALM_EXPORT)).unwrap()
}

fn mappers() -> Value {
    json!([
        { "name": "audience taylordash-api", "protocol": "openid-connect", "protocolMapper": "oidc-audience-mapper",
          "consentRequired": false,
          "config": { "included.client.audience": "taylordash-api", "access.token.claim": "true",
                      "id.token.claim": "false", "introspection.token.claim": "true" } },
        { "name": "realm roles", "protocol": "openid-connect", "protocolMapper": "oidc-usermodel-realm-role-mapper",
          "consentRequired": false,
          "config": { "claim.name": "realm_access.roles", "jsonType.label": "String", "multivalued": "true",
                      "access.token.claim": "true", "id.token.claim": "false", "userinfo.token.claim": "true",
                      "introspection.token.claim": "true" } }
    ])
}

#[test]
fn the_realm_of_the_example_with_the_key_from_the_input() {
    let h = harness();
    let out = h.run::<KeycloakAdmin>(json!({ "public_key_pem": KEY_2048, "task": { "attempt": 1 } })).unwrap();
    assert_eq!(
        serde_json::to_value(&out).unwrap(),
        json!({
            "realm_export": "keycloak/realm-export.json",
            "realm": "taylordash",
            "issuer": "http://127.0.0.1:8080/realms/taylordash",
            "audience": "taylordash-api",
            "roles": ["admin", "maintainer", "viewer"],
            "clients": ["taylordash-api", "taylordash-dashboard"],
            "key_provider": "rsa",
            "files": ["keycloak/realm-export.json"]
        })
    );
    let text = h.out_file(REALM_EXPORT);
    // Keycloak's export order: realm, settings, key, roles, clients, components.
    let keys: Vec<&str> = text.lines().filter(|l| l.starts_with("  \"")).map(|l| l.trim().split('"').nth(1).unwrap()).collect();
    assert_eq!(
        keys,
        [
            "realm", "displayName", "enabled", "sslRequired", "registrationAllowed", "bruteForceProtected",
            "accessTokenLifespan", "defaultSignatureAlgorithm", "attributes", "publicKey", "roles", "clients", "components"
        ]
    );
    assert_eq!(
        realm_of(&h),
        json!({
            "realm": "taylordash",
            "displayName": "TaylorDash",
            "enabled": true,
            "sslRequired": "external",
            "registrationAllowed": false,
            "bruteForceProtected": true,
            "accessTokenLifespan": 300,
            "defaultSignatureAlgorithm": "RS256",
            "attributes": { "frontendUrl": "http://127.0.0.1:8080" },
            "publicKey": KEY_2048_DER,
            "roles": { "realm": [
                { "name": "admin", "description": "TaylorDash API: reads and changes everything", "composite": false, "clientRole": false },
                { "name": "maintainer", "description": "TaylorDash API: creates, updates and deletes", "composite": false, "clientRole": false },
                { "name": "viewer", "description": "TaylorDash API: reads only", "composite": false, "clientRole": false }
            ] },
            "clients": [
                {
                    "clientId": "taylordash-api",
                    "name": "TaylorDash API",
                    "description": "The TaylorDash API (`/api/v1`): the audience of the tokens it accepts. Confidential: machine callers get tokens with client credentials; the secret is ${TAYLORDASH_KEYCLOAK_API_CLIENT_SECRET} at import.",
                    "enabled": true,
                    "protocol": "openid-connect",
                    "publicClient": false,
                    "bearerOnly": false,
                    "clientAuthenticatorType": "client-secret",
                    "secret": "${TAYLORDASH_KEYCLOAK_API_CLIENT_SECRET}",
                    "standardFlowEnabled": false,
                    "implicitFlowEnabled": false,
                    "directAccessGrantsEnabled": false,
                    "serviceAccountsEnabled": true,
                    "fullScopeAllowed": true,
                    "attributes": { "access.token.signed.response.alg": "RS256" },
                    "protocolMappers": mappers()
                },
                {
                    "clientId": "taylordash-dashboard",
                    "name": "TaylorDash dashboard",
                    "description": "The dashboard: a public client, authorization code with PKCE (S256); its tokens are for the API.",
                    "enabled": true,
                    "protocol": "openid-connect",
                    "publicClient": true,
                    "rootUrl": "http://127.0.0.1:3000",
                    "baseUrl": "/",
                    "redirectUris": ["http://127.0.0.1:3000/*"],
                    "webOrigins": ["http://127.0.0.1:3000"],
                    "standardFlowEnabled": true,
                    "implicitFlowEnabled": false,
                    "directAccessGrantsEnabled": false,
                    "serviceAccountsEnabled": false,
                    "fullScopeAllowed": true,
                    "attributes": {
                        "pkce.code.challenge.method": "S256",
                        "post.logout.redirect.uris": "http://127.0.0.1:3000/*",
                        "access.token.signed.response.alg": "RS256"
                    },
                    "protocolMappers": mappers()
                }
            ],
            "components": { "org.keycloak.keys.KeyProvider": [{
                "name": "rsa-taylordash",
                "providerId": "rsa",
                "subComponents": {},
                "config": {
                    "priority": ["100"], "enabled": ["true"], "active": ["true"], "algorithm": ["RS256"],
                    "privateKey": ["${TAYLORDASH_KEYCLOAK_RSA_PRIVATE_KEY}"]
                }
            }] }
        })
    );
    assert!(!text.contains("PRIVATE KEY-----"));
    assert_eq!(
        h.logs(),
        [(
            Level::Info,
            "keycloak/realm-export.json: realm `taylordash`, 2048-bit RSA public key, private key from ${TAYLORDASH_KEYCLOAK_RSA_PRIVATE_KEY} at import".to_string()
        )]
    );
}

#[test]
fn settings_come_from_keycloak_json_and_the_input_wins() {
    let h = harness();
    h.write_workspace(
        "keycloak.json",
        json!({ "issuer_base": "https://sso.example.com/", "public_key_pem": KEY_2048, "realm": "tracker" }).to_string(),
    );
    let out = h.run::<KeycloakAdmin>(json!({ "dashboard_url": "https://dash.example.com" })).unwrap();
    assert_eq!((out.realm.as_str(), out.issuer.as_str()), ("tracker", "https://sso.example.com/realms/tracker"));
    assert_eq!((out.audience.as_str(), out.clients.as_slice()), ("tracker-api", &["tracker-api".to_string(), "tracker-dashboard".to_string()][..]));
    let realm = realm_of(&h);
    assert_eq!(realm["publicKey"], KEY_2048_DER);
    assert_eq!(realm["attributes"]["frontendUrl"], "https://sso.example.com");
    assert_eq!(realm["clients"][1]["redirectUris"], json!(["https://dash.example.com/*"]));
    assert_eq!(realm["clients"][1]["protocolMappers"][0]["config"]["included.client.audience"], "tracker-api");

    // The input's realm and key win over the file's.
    let h2 = harness();
    h2.write_workspace("keycloak.json", json!({ "public_key_pem": KEY_1024, "realm": "tracker" }).to_string());
    let out = h2.run::<KeycloakAdmin>(json!({ "public_key_pem": KEY_2048, "realm": "ops" })).unwrap();
    assert_eq!((out.realm.as_str(), out.key_provider.as_str()), ("ops", "rsa"));
    assert_eq!(realm_of(&h2)["publicKey"], KEY_2048_DER);
}

#[test]
fn without_a_key_keycloak_generates_one() {
    let h = harness();
    let out = h.run::<KeycloakAdmin>(json!({})).unwrap();
    assert_eq!(out.key_provider, "rsa-generated");
    let realm = realm_of(&h);
    assert!(realm.get("publicKey").is_none());
    assert_eq!(
        realm["components"],
        json!({ "org.keycloak.keys.KeyProvider": [{
            "name": "rsa-generated-taylordash", "providerId": "rsa-generated", "subComponents": {},
            "config": { "priority": ["100"], "enabled": ["true"], "active": ["true"], "algorithm": ["RS256"], "keySize": ["2048"] }
        }] })
    );
}

#[test]
fn a_key_that_is_not_a_pem_rsa_public_key_is_invalid_input() {
    let cases = [
        (
            json!({ "public_key_pem": "ssh-rsa AAAAB3NzaC1yc2E" }),
            "public_key_pem: not a PEM public key (expected `-----BEGIN PUBLIC KEY-----` … `-----END PUBLIC KEY-----`, e.g. from `openssl rsa -pubout`)",
        ),
        (
            json!({ "public_key_pem": "-----BEGIN PUBLIC KEY-----\nnot*base64\n-----END PUBLIC KEY-----\n" }),
            "public_key_pem: the PEM body is not base64",
        ),
        (
            json!({ "public_key_pem": "-----BEGIN PUBLIC KEY-----\nZm9vYmFy\n-----END PUBLIC KEY-----\n" }),
            "public_key_pem: not a DER SubjectPublicKeyInfo",
        ),
        (json!({ "public_key_pem": KEY_EC }), "public_key_pem: not an RSA key (Keycloak's `rsa` key provider signs RS256 with RSA keys)"),
        (json!({ "public_key_pem": KEY_1024 }), "public_key_pem: a 1024-bit RSA key: at least 2048 bits are required"),
        (
            json!({ "public_key_pem": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n" }),
            "public_key_pem: this is a private key: pass only the public key (`openssl rsa -pubout`); Keycloak reads the private key from the environment when it imports the realm",
        ),
        (
            json!({ "issuer_base": "127.0.0.1:8080" }),
            "issuer_base: `127.0.0.1:8080` is not an http(s) URL without query or fragment (e.g. \"http://127.0.0.1:8080\")",
        ),
        (json!({ "realm": "master" }), "realm: `master` is not a realm name (1 to 64 letters, digits, `-`, `_`, `.`; not `master`)"),
    ];
    for (input, message) in cases {
        let h = harness();
        assert_eq!(h.run::<KeycloakAdmin>(input.clone()).unwrap_err(), ToolError::InvalidInput(message.into()), "{input}");
        assert!(!h.out().join(REALM_EXPORT).exists());
    }
    // From the file, the message names the file.
    let h = harness();
    h.write_workspace("keycloak.json", json!({ "public_key_pem": KEY_EC }).to_string());
    assert_eq!(
        h.run::<KeycloakAdmin>(json!({})).unwrap_err(),
        ToolError::InvalidInput("keycloak.json: public_key_pem: not an RSA key (Keycloak's `rsa` key provider signs RS256 with RSA keys)".into())
    );
    h.write_workspace("keycloak.json", r#"{"issuer": "x"}"#);
    assert!(matches!(
        h.run::<KeycloakAdmin>(json!({})).unwrap_err(),
        ToolError::InvalidInput(m) if m.starts_with("keycloak.json: unknown field `issuer`")
    ));
    assert!(matches!(
        h.run::<KeycloakAdmin>(json!({ "public_key_pem": 7 })).unwrap_err(),
        ToolError::InvalidInput(m) if m.starts_with("public_key_pem")
    ));
}

#[test]
fn output_is_byte_identical_across_runs() {
    let run = || {
        let h = harness();
        let out = h.run::<KeycloakAdmin>(json!({ "public_key_pem": KEY_2048 })).unwrap();
        (out, h.out_file(REALM_EXPORT))
    };
    assert_eq!(run(), run());
}

#[test]
fn describe_names_the_tool_after_its_crate() {
    assert_eq!(taylordash_sdk::describe::<KeycloakAdmin>(env!("CARGO_PKG_VERSION")).name, env!("CARGO_PKG_NAME"));
}

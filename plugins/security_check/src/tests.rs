use super::*;
use serde_json::json;
use taylordash_sdk::testing::Harness;

/// The workspace the generators make from `pipelines/examples/backlog.yaml`.
fn example(h: &Harness) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/toolset/fixtures/example");
    h.copy_into_workspace(&root);
}

fn run(h: &Harness) -> GateOutput {
    h.run::<SecurityCheck>(json!({ "gate": "security_check", "stage": "validation", "attempt": 1, "files": [], "outputs": {} }))
        .unwrap()
}

fn edit(h: &Harness, rel: &str, f: impl FnOnce(String) -> String) {
    let path = h.workspace().join(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(path, f(text)).unwrap();
}

fn lines(out: &GateOutput) -> Vec<String> {
    out.findings.iter().map(|f| format!("{}:{} {}", f.file, f.location, f.message)).collect()
}

#[test]
fn the_generated_service_passes() {
    let h = Harness::new();
    example(&h);
    let out = run(&h);
    assert_eq!(lines(&out), Vec::<String>::new());
    assert!(out.passed);
    assert!(out.checked.contains(&"app/middleware.py".to_string()));
    assert!(out.checked.contains(&"tests/test_api.py".to_string()));
    assert!(out.summary.starts_with("security_check: passed: no secrets in 27 files"), "{}", out.summary);
}

#[test]
fn secrets_are_found_located_and_redacted() {
    let h = Harness::new();
    example(&h);
    h.write_workspace("app/config.py", "REGION = \"eu\"\nAWS_KEY = \"AKIAZ7QWERTYUIOPASDF\"\nDOC_KEY = \"AKIAIOSFODNN7EXAMPLE\"\n");
    h.write_workspace("app/db.py", "import os\npassword = \"hunter2hunter2\"\ntoken = os.environ[\"API_TOKEN\"]\nkey = \"${API_KEY}\"\n");
    h.write_workspace("deploy/values.yaml", "db:\n  password: s3cr3t-value\n  user: app\n  token: ${TOKEN}\n");
    h.write_workspace("docs/key.md", "x\n-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n");
    h.write_workspace("notes.txt", "broker mqtts://svc:pa55word@mq.example.com:8883\nfixture = \"ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" # security_check: allow\n");
    let out = run(&h);
    assert_eq!(
        lines(&out),
        [
            "app/config.py:2:12 an AWS access key id: `AKIA…DF (20 characters)`",
            "app/db.py:2:13 a hard-coded password or secret: `hunt…r2 (14 characters)`",
            "deploy/values.yaml:2:13 a plain-text password or secret: `s3cr…ue (12 characters)`",
            "docs/key.md:2:1 a private key: `----…-- (31 characters)`",
            "notes.txt:1:20 credentials in a URL: `pa… (8 characters)`",
        ]
    );
    assert!(!out.passed);
    assert!(!serde_json::to_string(&out).unwrap().contains("hunter2hunter2"), "secrets never echoed");
}

#[test]
fn mutating_operations_without_auth_are_found_in_the_contract_and_the_code() {
    let h = Harness::new();
    example(&h);
    edit(&h, "openapi.yaml", |t| {
        // DELETE loses its requirement; PATCH admits anonymous callers.
        let t = t.replacen("      - projects\n      security:\n      - bearerAuth: []\n      responses:\n        '204'", "      - projects\n      responses:\n        '204'", 1);
        t.replacen("      security:\n      - bearerAuth: []\n      requestBody:\n        required: true\n        content:\n          application/json:\n            schema:\n              $ref: '#/components/schemas/ProjectUpdate'",
                   "      security:\n      - {}\n      requestBody:\n        required: true\n        content:\n          application/json:\n            schema:\n              $ref: '#/components/schemas/ProjectUpdate'", 1)
    });
    edit(&h, "app/routers/events.py", |t| t.replacen("    dependencies=[Depends(require_token)],\n", "", 1));
    let out = run(&h);
    let got = lines(&out);
    assert!(got.iter().any(|l| l.starts_with("openapi.yaml:") && l.ends_with("DELETE /api/v1/projects/{project_id}: a mutating operation without a security requirement")), "{got:#?}");
    assert!(got.iter().any(|l| l.ends_with("PATCH /api/v1/projects/{project_id}: `{}` in its security requirements lets anonymous callers in")), "{got:#?}");
    assert!(got.contains(&"app/routers/events.py:19:1 POST route `publish_event` does not depend on authentication (e.g. `dependencies=[Depends(require_token)]`)".to_string()), "{got:#?}");
    assert_eq!(got.len(), 3, "{got:#?}");
}

#[test]
fn hsts_and_tls_settings_are_required() {
    let h = Harness::new();
    example(&h);
    edit(&h, "app/settings.py", |t| t.replace("HSTS_MAX_AGE = 63072000", "HSTS_MAX_AGE = 86400"));
    edit(&h, "app/storage.py", |t| t.replace("DEFAULT_ENDPOINT = \"https://localhost:9000\"", "DEFAULT_ENDPOINT = \"http://minio:9000\""));
    h.write_workspace("app/feed.py", "import paho.mqtt.client as mqtt\nDSN = \"postgresql://app@db/app?sslmode=disable\"\n");
    let out = run(&h);
    let got = lines(&out);
    assert!(got.iter().any(|l| l.starts_with("app/settings.py:") && l.ends_with("HSTS max-age 86400 is below one year (31536000 s)")), "{got:#?}");
    assert!(got.iter().any(|l| l.starts_with("app/storage.py:") && l.contains("plaintext URL `http://minio` in app code: default to https://")), "{got:#?}");
    assert!(got.contains(&"app/feed.py:1:1 an MQTT client without TLS (no tls_set / SSL context)".to_string()), "{got:#?}");
    assert!(got.contains(&"app/feed.py:2:8 a database URL with `sslmode=disable` in app code".to_string()), "{got:#?}");

    let h = Harness::new();
    example(&h);
    edit(&h, "app/main.py", |t| t.replace("SecurityHeadersMiddleware", "OtherMiddleware"));
    assert_eq!(lines(&run(&h)), ["app/main.py: the HSTS middleware of app/middleware.py is not installed here"]);
    std::fs::remove_file(h.workspace().join("app/middleware.py")).unwrap();
    assert!(lines(&run(&h)).contains(&"app/: no `Strict-Transport-Security` (HSTS) header is set by the app".to_string()));
}

#[test]
fn an_empty_workspace_fails() {
    let h = Harness::new();
    let out = run(&h);
    assert_eq!(
        lines(&out),
        [
            "app/: missing: no app code to check for HSTS and TLS (fastapi_gen writes it)",
            "openapi.yaml: missing: cannot check that mutating operations require authentication",
        ]
    );
}

#[test]
fn describe_names_the_tool_after_its_crate() {
    assert_eq!(taylordash_sdk::describe::<SecurityCheck>(env!("CARGO_PKG_VERSION")).name, env!("CARGO_PKG_NAME"));
}

/// The shape `traefik_hsts` writes (`conf_snippets/traefik/dynamic.yml`).
const TRAEFIK: &str = "http:
  routers:
    api:
      rule: Host(`api.example.com`)
      entryPoints:
      - websecure
      middlewares:
      - hsts@file
      service: api
      tls:
        options: default
    api-http:
      rule: Host(`api.example.com`)
      entryPoints:
      - web
      service: api
  services:
    api:
      loadBalancer:
        servers:
        - url: http://api:8000
  middlewares:
    hsts:
      headers:
        stsSeconds: 63072000
        stsIncludeSubdomains: true
        stsPreload: true
        forceSTSHeader: true
tls:
  options:
    default:
      minVersion: VersionTLS12
";

#[test]
fn the_traefik_snippet_needs_a_year_of_hsts_on_every_tls_router() {
    let h = Harness::new();
    example(&h);
    h.write_workspace(TRAEFIK_DYNAMIC, TRAEFIK);
    let out = run(&h);
    assert_eq!(lines(&out), Vec::<String>::new());
    assert!(out.checked.contains(&TRAEFIK_DYNAMIC.to_string()));

    let weak = TRAEFIK
        .replace("stsSeconds: 63072000", "stsSeconds: 86400")
        .replace("        stsIncludeSubdomains: true\n", "")
        .replace("  services:\n", "    admin:\n      rule: Host(`admin.example.com`)\n      service: api\n      tls: {}\n  services:\n");
    h.write_workspace(TRAEFIK_DYNAMIC, weak);
    assert_eq!(
        lines(&run(&h)),
        [
            "conf_snippets/traefik/dynamic.yml:17:5 (/http/routers/admin) TLS router admin sends no HSTS header (no headers middleware with stsSeconds)",
            "conf_snippets/traefik/dynamic.yml:28:7 (/http/middlewares/hsts/headers) middleware hsts: HSTS without stsIncludeSubdomains",
            "conf_snippets/traefik/dynamic.yml:29:9 (/http/middlewares/hsts/headers/stsSeconds) middleware hsts: HSTS stsSeconds 86400 is below one year (31536000 s)",
        ]
    );

    h.write_workspace(TRAEFIK_DYNAMIC, "http: [unclosed\n");
    let got = lines(&run(&h));
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(got[0].starts_with("conf_snippets/traefik/dynamic.yml: does not parse: conf_snippets/traefik/dynamic.yml:"), "{got:#?}");
}

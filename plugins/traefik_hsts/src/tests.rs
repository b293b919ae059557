use super::*;
use serde_json::json;
use taylordash_sdk::testing::Harness;

const BACKLOG: &str = include_str!("../../../pipelines/examples/backlog.yaml");

fn run(input: Value) -> (Harness, Result<TraefikOutput, ToolError>) {
    let h = Harness::new();
    h.write_workspace("backlog.yaml", BACKLOG);
    let out = h.run::<TraefikHsts>(input);
    (h, out)
}

fn yaml(h: &Harness) -> Value {
    serde_yaml_ng::from_str(&h.out_file(DYNAMIC_FILE)).unwrap()
}

fn invalid(input: Value) -> String {
    match run(input).1 {
        Err(ToolError::InvalidInput(m)) => m,
        other => panic!("expected invalid input, got {other:?}"),
    }
}

#[test]
fn defaults_route_the_api_over_tls_with_hsts() {
    let (h, out) = run(json!({ "previous": { "module": "app/main.py" } }));
    let out = out.unwrap();
    assert_eq!(out.conf_snippets, ["conf_snippets/traefik/dynamic.yml"]);
    assert_eq!(out.files, out.conf_snippets);
    assert_eq!(out.host, "taylordash.localhost");
    assert_eq!(out.backend_url, "http://api:8000");
    assert_eq!(out.tls_min_version, TlsVersion::VersionTLS12);
    assert_eq!(
        out.routers,
        [
            Router {
                name: "taylordash-api".into(),
                rule: "Host(`taylordash.localhost`)".into(),
                entry_points: vec!["websecure".into()],
                service: "taylordash-api".into(),
                middlewares: vec!["taylordash-hsts".into()],
                tls_options: Some("default".into()),
            },
            Router {
                name: "taylordash-api-http".into(),
                rule: "Host(`taylordash.localhost`)".into(),
                entry_points: vec!["web".into()],
                service: "taylordash-api".into(),
                middlewares: vec!["taylordash-https-redirect".into()],
                tls_options: None,
            },
        ]
    );
    assert_eq!(
        out.hsts,
        Hsts {
            middleware: "taylordash-hsts".into(),
            sts_seconds: 63_072_000,
            include_subdomains: true,
            preload: true,
            force: true,
            header: "max-age=63072000; includeSubDomains; preload".into(),
        }
    );

    let y = yaml(&h);
    assert_eq!(
        y["http"]["routers"]["taylordash-api"],
        json!({
            "rule": "Host(`taylordash.localhost`)",
            "entryPoints": ["websecure"],
            "middlewares": ["taylordash-hsts"],
            "service": "taylordash-api",
            "tls": { "options": "default" }
        })
    );
    assert_eq!(y["http"]["services"]["taylordash-api"], json!({ "loadBalancer": { "servers": [{ "url": "http://api:8000" }], "passHostHeader": true } }));
    assert_eq!(
        y["http"]["middlewares"]["taylordash-hsts"],
        json!({ "headers": {
            "stsSeconds": 63072000, "stsIncludeSubdomains": true, "stsPreload": true, "forceSTSHeader": true,
            "frameDeny": true, "contentTypeNosniff": true, "browserXssFilter": true, "referrerPolicy": "no-referrer"
        } })
    );
    assert_eq!(y["http"]["middlewares"]["taylordash-https-redirect"], json!({ "redirectScheme": { "scheme": "https", "permanent": true } }));
    let opts = &y["tls"]["options"]["default"];
    assert_eq!(opts["minVersion"], "VersionTLS12");
    assert_eq!(opts["sniStrict"], true);
    assert_eq!(opts["cipherSuites"].as_array().unwrap().len(), 6);
    assert!(opts["cipherSuites"].as_array().unwrap().iter().all(|c| c.as_str().unwrap().contains("ECDHE")));
    assert_eq!(opts["curvePreferences"], json!(["X25519", "CurveP256", "CurveP384"]));
    let keys: Vec<&String> = y.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["http", "tls"]);

    let text = h.out_file(DYNAMIC_FILE);
    assert!(text.starts_with("# Traefik v3 dynamic configuration (file provider) for "), "{text}");
    assert!(text.contains("# HSTS: max-age=63072000; includeSubDomains; preload\nhttp:\n"), "{text}");
    assert_eq!(
        h.logs().last().unwrap().1,
        "conf_snippets/traefik/dynamic.yml: 2 routers for taylordash.localhost → http://api:8000, HSTS max-age=63072000; includeSubDomains; preload, TLS ≥ VersionTLS12"
    );
}

#[test]
fn inputs_set_host_backend_max_age_and_tls_floor() {
    let (h, out) = run(json!({
        "host": "API.Example.com",
        "backend_url": "https://[::1]:8443/",
        "sts_seconds": 31536000,
        "tls_min_version": "VersionTLS13"
    }));
    let out = out.unwrap();
    assert_eq!(out.host, "api.example.com");
    assert_eq!(out.routers[0].rule, "Host(`api.example.com`)");
    assert_eq!(out.backend_url, "https://[::1]:8443/");
    assert_eq!(out.hsts.sts_seconds, 31_536_000);
    assert_eq!(out.hsts.header, "max-age=31536000; includeSubDomains; preload");
    assert_eq!(out.tls_min_version, TlsVersion::VersionTLS13);
    let y = yaml(&h);
    assert_eq!(y["http"]["middlewares"]["taylordash-hsts"]["headers"]["stsSeconds"], 31536000);
    assert_eq!(y["http"]["services"]["taylordash-api"]["loadBalancer"]["servers"][0]["url"], "https://[::1]:8443/");
    // TLS 1.3 suites are not configurable: no cipherSuites.
    assert_eq!(
        y["tls"]["options"]["default"],
        json!({ "minVersion": "VersionTLS13", "sniStrict": true, "curvePreferences": ["X25519", "CurveP256", "CurveP384"] })
    );
}

#[test]
fn less_than_a_year_of_hsts_is_invalid_input() {
    assert_eq!(
        invalid(json!({ "sts_seconds": 86400 })),
        "sts_seconds: 86400 is below one year (31536000 s), the least HSTS preload lists accept"
    );
    assert_eq!(
        invalid(json!({ "sts_seconds": 31535999 })),
        "sts_seconds: 31535999 is below one year (31536000 s), the least HSTS preload lists accept"
    );
    assert_eq!(invalid(json!({ "sts_seconds": 18446744073709551615u64 })), "sts_seconds: 18446744073709551615 is too large");
}

#[test]
fn bad_hosts_and_backends_are_invalid_input() {
    let host = |h: &str| format!("host: `{h}` is not a DNS host name (labels of letters, digits and `-`, separated by `.`)");
    assert_eq!(invalid(json!({ "host": "api`) || Host(`evil" })), host("api`) || Host(`evil"));
    assert_eq!(invalid(json!({ "host": "" })), host(""));
    assert_eq!(invalid(json!({ "host": "-api.example.com" })), host("-api.example.com"));
    assert_eq!(invalid(json!({ "host": "api..example.com" })), host("api..example.com"));
    assert_eq!(invalid(json!({ "host": "a".repeat(64) })), host(&"a".repeat(64)));

    assert_eq!(invalid(json!({ "backend_url": "api:8000" })), "backend_url: `api:8000` must start with http:// or https://");
    assert_eq!(invalid(json!({ "backend_url": "ftp://api" })), "backend_url: `ftp://api` must start with http:// or https://");
    assert_eq!(invalid(json!({ "backend_url": "http://" })), "backend_url: `http://` has no host");
    assert_eq!(invalid(json!({ "backend_url": "http://api:0" })), "backend_url: `http://api:0` has an invalid port");
    assert_eq!(invalid(json!({ "backend_url": "http://api:99999" })), "backend_url: `http://api:99999` has an invalid port");
    assert_eq!(invalid(json!({ "backend_url": "http://a_b:80" })), "backend_url: `http://a_b:80` has an invalid host");
    assert_eq!(invalid(json!({ "backend_url": "http://api/x y" })), "backend_url: `http://api/x y` contains characters not allowed in a URL");
    let creds = invalid(json!({ "backend_url": "http://admin:hunter22@api:8000" }));
    assert_eq!(creds, "backend_url: credentials (`user:password@`) are not allowed in the URL");

    assert_eq!(
        invalid(json!({ "tls_min_version": "VersionTLS11" })),
        "tls_min_version: unknown variant `VersionTLS11`, expected `VersionTLS12` or `VersionTLS13`"
    );
}

#[test]
fn no_backlog_is_invalid_input() {
    let h = Harness::new();
    let err = h.run::<TraefikHsts>(json!({})).unwrap_err();
    assert_eq!(
        err,
        ToolError::InvalidInput("backlog: no `backlog` input and no backlog.json, backlog.yaml or backlog.yml in the workspace".into())
    );
}

#[test]
fn output_is_byte_identical_across_runs() {
    let once = || {
        let (h, out) = run(json!({}));
        (out.unwrap(), h.out_file(DYNAMIC_FILE))
    };
    assert_eq!(once(), once());
}

#[test]
fn describe_names_the_tool_after_its_crate() {
    assert_eq!(taylordash_sdk::describe::<TraefikHsts>(env!("CARGO_PKG_VERSION")).name, env!("CARGO_PKG_NAME"));
}

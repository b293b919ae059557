use super::*;
use serde_json::json;
use taylordash_sdk::testing::Harness;

const BACKLOG: &str = include_str!("../../../pipelines/examples/backlog.yaml");

fn run_example() -> (Harness, HealthcheckGenOutput) {
    let h = Harness::new();
    h.write_workspace("backlog.yaml", BACKLOG);
    let out = h.run::<HealthcheckGen>(json!({})).unwrap();
    (h, out)
}

fn compose(h: &Harness) -> Value {
    serde_yaml_ng::from_str(&h.out_file("docker-compose.yml")).unwrap()
}

#[test]
fn writes_the_compose_file_the_scripts_and_what_the_services_mount() {
    let (_, out) = run_example();
    assert_eq!(out.docker_compose, "docker-compose.yml");
    assert_eq!(
        out.health_scripts,
        [
            "health_scripts/check_api.sh",
            "health_scripts/check_mqtt.sh",
            "health_scripts/check_postgres.sh",
            "health_scripts/check_minio.sh",
            "health_scripts/check_prometheus.sh",
            "health_scripts/check_grafana.sh",
            "health_scripts/check_all.sh",
        ]
    );
    assert_eq!(out.services, ["api", "mosquitto", "postgres", "minio", "prometheus", "grafana"]);
    assert_eq!(
        out.files,
        [
            "docker-compose.yml",
            "health_scripts/check_api.sh",
            "health_scripts/check_mqtt.sh",
            "health_scripts/check_postgres.sh",
            "health_scripts/check_minio.sh",
            "health_scripts/check_prometheus.sh",
            "health_scripts/check_grafana.sh",
            "health_scripts/check_all.sh",
            "health_scripts/README.md",
            "compose/api.Dockerfile",
            "compose/prometheus/prometheus.yml",
            "compose/grafana/provisioning/datasources/prometheus.yml",
            "compose/grafana/provisioning/dashboards/dashboards.yml",
        ]
    );
    assert_eq!(
        out.depends_on,
        ["api -> postgres", "api -> mosquitto", "api -> minio", "prometheus -> api", "grafana -> prometheus"]
    );
    assert_eq!(out.healthchecks[0], "api: sh /health_scripts/check_api.sh");
    assert_eq!(out.healthchecks[3], "minio: mc ready local");
    assert_eq!(
        out.required_env,
        ["TAYLORDASH_API_TOKEN", "POSTGRES_PASSWORD", "MQTT_PASSWORD", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "GRAFANA_ADMIN_PASSWORD"]
    );
}

#[test]
fn every_service_has_a_healthcheck_and_waits_only_for_healthy_services() {
    let (h, _) = run_example();
    let c = compose(&h);
    let services = c["services"].as_object().unwrap();
    assert_eq!(services.len(), 6);
    for (name, s) in services {
        let hc = &s["healthcheck"];
        assert_eq!(hc["test"][0], "CMD", "{name}");
        for key in ["interval", "timeout", "retries", "start_period"] {
            assert!(!hc[key].is_null(), "{name}: healthcheck.{key}");
        }
        if let Some(deps) = s.get("depends_on") {
            for (dep, cond) in deps.as_object().unwrap() {
                assert_eq!(cond, &json!({ "condition": "service_healthy" }), "{name} -> {dep}");
                assert!(services.get(dep).is_some_and(|d| d.get("healthcheck").is_some()), "{name} -> {dep}");
            }
        }
    }
    assert_eq!(
        services["postgres"]["healthcheck"],
        json!({ "test": ["CMD", "sh", "/health_scripts/check_postgres.sh"], "interval": "10s", "timeout": "5s", "retries": 6, "start_period": "40s" })
    );
    assert_eq!(services["api"]["depends_on"].as_object().unwrap().keys().collect::<Vec<_>>(), ["minio", "mosquitto", "postgres"]);
}

#[test]
fn the_api_is_the_generated_app_configured_like_its_modules_read() {
    let (h, _) = run_example();
    let c = compose(&h);
    let api = &c["services"]["api"];
    assert_eq!(api["build"], json!({ "context": ".", "dockerfile": "compose/api.Dockerfile" }));
    assert_eq!(api["image"], "taylordash-api:0.1.0");
    assert_eq!(api["command"], json!(["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers"]));
    assert_eq!(api["ports"], json!(["8000:8000"]));
    let env = &api["environment"];
    assert_eq!(env["TAYLORDASH_API_TOKEN"], "${TAYLORDASH_API_TOKEN:?set TAYLORDASH_API_TOKEN}");
    assert_eq!(
        env["DATABASE_URL"],
        "postgresql://taylordash:${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}@postgres:5432/taylordash?sslmode=${POSTGRES_SSLMODE:-prefer}"
    );
    assert_eq!(env["MQTT_URL"], "mqtts://mosquitto:8883");
    assert_eq!(env["MQTT_USERNAME"], "${MQTT_USERNAME:-taylordash-api}");
    assert_eq!(env["S3_ENDPOINT"], "http://minio:9000");
    assert_eq!(env["S3_BUCKET"], "${S3_BUCKET:-taylordash-artifacts}");
    assert_eq!(env["API_HEALTH_PATH"], "/metrics");
    let dockerfile = h.out_file("compose/api.Dockerfile");
    assert!(dockerfile.starts_with("# The TaylorDash"), "{dockerfile}");
    assert!(dockerfile.contains("\nFROM python:3.12-slim\n"));
    assert!(dockerfile.contains("\nCOPY app/ ./app/\n"));
    assert!(dockerfile.contains("\nUSER 65534:65534\n"));
    assert!(dockerfile.ends_with("CMD [\"uvicorn\", \"app.main:app\", \"--host\", \"0.0.0.0\", \"--port\", \"8000\"]\n"));
}

#[test]
fn monitoring_mounts_the_rules_and_the_dashboard_the_other_tools_write() {
    let (h, _) = run_example();
    let c = compose(&h);
    let prom = &c["services"]["prometheus"];
    assert_eq!(prom["image"], "prom/prometheus:v2.55.1");
    assert_eq!(prom["volumes"][1], format!("./{}:/etc/prometheus/rules/rules.yml:ro", paths::PROM_RULES));
    let graf = &c["services"]["grafana"];
    assert_eq!(graf["volumes"][1], format!("./{}:/etc/grafana/dashboards/taylordash.json:ro", paths::DASHBOARD));
    assert_eq!(c["services"]["postgres"]["image"], "timescale/timescaledb:2.17.2-pg16");
    assert_eq!(c["services"]["postgres"]["volumes"][1], "./migrations:/docker-entrypoint-initdb.d:ro");
    assert_eq!(c["services"]["mosquitto"]["image"], "eclipse-mosquitto:2");
    assert_eq!(c["services"]["mosquitto"]["volumes"][0], "./conf_snippets/mosquitto:/mosquitto/config:ro");
    let p: Value = serde_yaml_ng::from_str(&h.out_file("compose/prometheus/prometheus.yml")).unwrap();
    assert_eq!(p["rule_files"], json!(["/etc/prometheus/rules/rules.yml"]));
    assert_eq!(
        p["scrape_configs"][1],
        json!({ "job_name": "taylordash-api", "metrics_path": "/metrics",
                "static_configs": [{ "targets": ["api:8000"], "labels": { "service": "taylordash" } }] })
    );
    let ds: Value = serde_yaml_ng::from_str(&h.out_file("compose/grafana/provisioning/datasources/prometheus.yml")).unwrap();
    assert_eq!(ds["datasources"][0]["url"], "http://prometheus:9090");
    assert_eq!(ds["datasources"][0]["type"], "prometheus");
    let prov: Value = serde_yaml_ng::from_str(&h.out_file("compose/grafana/provisioning/dashboards/dashboards.yml")).unwrap();
    assert_eq!(prov["providers"][0]["options"]["path"], "/etc/grafana/dashboards");
}

#[test]
fn no_literal_secret_anywhere() {
    let (h, out) = run_example();
    let c = compose(&h);
    let mut secret_keys = 0;
    for (name, s) in c["services"].as_object().unwrap() {
        if let Some(env) = s.get("environment").and_then(Value::as_object) {
            for (k, v) in env {
                let v = v.as_str().unwrap();
                let k_up = k.to_ascii_uppercase();
                if ["PASSWORD", "TOKEN", "SECRET", "ACCESS_KEY"].iter().any(|w| k_up.contains(w)) {
                    secret_keys += 1;
                    assert!(v.starts_with("${") && v.ends_with('}') && v.contains(":?"), "{name}.{k} = {v}");
                }
            }
        }
    }
    assert_eq!(secret_keys, 7);
    for f in &out.files {
        let text = h.out_file(f);
        for word in ["password=", "changeme", "minioadmin", "secret123", "admin123"] {
            assert!(!text.to_ascii_lowercase().contains(word), "{f} contains {word}");
        }
    }
}

#[test]
fn the_scripts_are_posix_sh_with_a_timeout_and_a_one_line_verdict() {
    let (h, out) = run_example();
    for path in &out.health_scripts {
        let text = h.out_file(path);
        assert!(text.starts_with("#!/bin/sh\n"), "{path}");
        assert!(!text.contains("@@"), "{path}: unfilled placeholder");
        assert!(!text.contains("/dev/tcp") && !text.contains("[["), "{path}: not POSIX sh");
        if !path.ends_with("check_all.sh") {
            assert!(text.contains("timeout=${HEALTH_TIMEOUT:-3}\n"), "{path}");
            assert!(text.contains(": healthy (") && text.contains("unhealthy: "), "{path}");
        }
    }
    let api = h.out_file("health_scripts/check_api.sh");
    assert!(api.contains("#   sh health_scripts/check_api.sh"));
    assert!(api.contains("\ndefault_path='/metrics'\nurl=\"${API_URL:-http://127.0.0.1:8000}${API_HEALTH_PATH:-$default_path}\"\n"));
    assert!(api.contains("urllib.request.ProxyHandler({})"));
    assert!(api.contains("opener.open(url, timeout=timeout)"));
    assert!(api.contains("wget -q -T \"$timeout\""));
    let pg = h.out_file("health_scripts/check_postgres.sh");
    assert!(pg.contains("pg_isready -h \"$host\" -p \"$port\" -U \"$user\" -d \"$db\" -t \"$timeout\""));
    assert!(pg.contains("user=${PGUSER:-${POSTGRES_USER:-taylordash}}"));
    let mqtt = h.out_file("health_scripts/check_mqtt.sh");
    assert!(mqtt.contains("url=${MQTT_URL:-mqtts://127.0.0.1:8883}"));
    assert!(mqtt.contains("ssl.create_default_context(cafile=ca or None)"));
    assert!(mqtt.contains("nc -z -w \"$timeout\" \"$host\" \"$port\""));
    assert!(h.out_file("health_scripts/check_minio.sh").contains("url=\"${MINIO_URL:-http://127.0.0.1:9000}/minio/health/live\""));
    assert!(h.out_file("health_scripts/check_prometheus.sh").contains("/-/ready\""));
    assert!(h.out_file("health_scripts/check_grafana.sh").contains("/api/health\""));
    let all = h.out_file("health_scripts/check_all.sh");
    assert!(all.contains(
        "for script in check_api.sh check_mqtt.sh check_postgres.sh check_minio.sh check_prometheus.sh check_grafana.sh; do\n  sh \"$dir/$script\""
    ));
    let readme = h.out_file("health_scripts/README.md");
    assert!(readme.contains("sh health_scripts/check_all.sh"));
    assert!(readme.contains("- `POSTGRES_PASSWORD`\n"));
}

#[test]
fn without_a_metrics_endpoint_the_probe_uses_openapi_json() {
    let h = Harness::new();
    h.write_workspace("backlog.yaml", "items:\n  - id: projects-crud\n    title: Projects CRUD API\n    resource: projects\n");
    let out = h.run::<HealthcheckGen>(json!({})).unwrap();
    assert!(out.healthchecks.contains(&"api: sh /health_scripts/check_api.sh".to_string()));
    assert!(h.out_file("health_scripts/check_api.sh").contains("\ndefault_path='/openapi.json'\n"));
    let p: Value = serde_yaml_ng::from_str(&h.out_file("compose/prometheus/prometheus.yml")).unwrap();
    assert_eq!(p["scrape_configs"].as_array().unwrap().len(), 1);
}

#[test]
fn helpers_quote_and_find_required_variables() {
    assert_eq!(sh_quote("/a'b"), "'/a'\\''b'");
    assert_eq!(required("X"), "${X:?set X}");
    assert_eq!(required_vars("${A:?set A} ${B:-b} ${A:?again} ${C:?}"), ["A", "C"]);
}

#[test]
fn a_missing_backlog_is_invalid_input() {
    let h = Harness::new();
    let err = h.run::<HealthcheckGen>(json!({})).unwrap_err();
    assert!(matches!(err, ToolError::InvalidInput(_)), "{err:?}");
}

#[test]
fn output_is_byte_identical_across_runs() {
    let run = || {
        let (h, out) = run_example();
        let texts: Vec<String> = out.files.iter().map(|f| h.out_file(f)).collect();
        (out, texts)
    };
    assert_eq!(run(), run());
}

#[test]
fn describe_names_the_tool_after_its_crate() {
    assert_eq!(taylordash_sdk::describe::<HealthcheckGen>(env!("CARGO_PKG_VERSION")).name, env!("CARGO_PKG_NAME"));
}

//! The compose stack: its services (image, healthcheck, dependencies,
//! configuration), `docker-compose.yml` built from them with
//! `service_model`'s ordered [`Doc`], and the files the services mount
//! (the API's Dockerfile, `prometheus.yml`, Grafana provisioning).

use service_model::{Doc, EndpointKind, doc, names};

use super::*;

pub const COMPOSE_FILE: &str = "docker-compose.yml";
pub const HEALTH_DIR: &str = "health_scripts";
pub const API_DOCKERFILE: &str = "compose/api.Dockerfile";
pub const PROMETHEUS_CONFIG: &str = "compose/prometheus/prometheus.yml";
pub const GRAFANA_PROVISIONING: &str = "compose/grafana/provisioning";
pub const GRAFANA_DATASOURCE: &str = "compose/grafana/provisioning/datasources/prometheus.yml";
pub const GRAFANA_DASHBOARD_PROVIDER: &str = "compose/grafana/provisioning/dashboards/dashboards.yml";
/// Where `mosquitto_tls` writes the broker's configuration and certificates.
pub const MOSQUITTO_CONF_DIR: &str = "conf_snippets/mosquitto";

/// Where the containers see `health_scripts/`.
pub const SCRIPTS_MOUNT: &str = "/health_scripts";
pub const API_PORT: u16 = 8000;
pub const MQTT_PORT: u16 = 8883;
pub const PG_PORT: u16 = 5432;
pub const MINIO_PORT: u16 = 9000;
pub const MINIO_CONSOLE_PORT: u16 = 9001;
pub const PROMETHEUS_PORT: u16 = 9090;
pub const GRAFANA_PORT: u16 = 3000;

pub const PYTHON_IMAGE: &str = "python:3.12-slim";
pub const MOSQUITTO_IMAGE: &str = "eclipse-mosquitto:2";
pub const TIMESCALE_IMAGE: &str = "timescale/timescaledb:2.17.2-pg16";
pub const MINIO_IMAGE: &str = "minio/minio:RELEASE.2024-12-18T13-15-44Z";
pub const PROMETHEUS_IMAGE: &str = "prom/prometheus:v2.55.1";
pub const GRAFANA_IMAGE: &str = "grafana/grafana:11.3.1";

/// The interval, timeout, retries and start period of a healthcheck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub interval: &'static str,
    pub timeout: &'static str,
    pub retries: u32,
    pub start_period: &'static str,
}

pub const TIMING: Timing = Timing { interval: "10s", timeout: "5s", retries: 5, start_period: "20s" };
/// TimescaleDB initialises its data directory (and runs the migrations) on first start.
pub const DB_TIMING: Timing = Timing { interval: "10s", timeout: "5s", retries: 6, start_period: "40s" };

/// One compose service.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: &'static str,
    pub image: String,
    /// The healthcheck's `test` after `CMD`.
    pub check: Vec<String>,
    pub timing: Timing,
    /// Services it waits for (`condition: service_healthy`).
    pub depends_on: Vec<&'static str>,
    /// The other keys (build, command, environment, ports, volumes), in order.
    pub rest: Vec<(String, Doc)>,
}

impl Service {
    pub fn doc(&self) -> Doc {
        let mut d = Doc::map();
        let mut rest = self.rest.iter();
        // `build` (the API) goes before `image`.
        if let Some((k, v)) = self.rest.first().filter(|(k, _)| k == "build") {
            d.insert(k.clone(), v.clone());
            rest.next();
        }
        d.insert("image", self.image.as_str());
        d.insert("restart", "unless-stopped");
        for (k, v) in rest {
            d.insert(k.clone(), v.clone());
        }
        let mut test = vec![Doc::from("CMD")];
        test.extend(self.check.iter().map(Doc::from));
        d.insert(
            "healthcheck",
            doc!({
                "test": (Doc::Seq(test)),
                "interval": (self.timing.interval),
                "timeout": (self.timing.timeout),
                "retries": (self.timing.retries),
                "start_period": (self.timing.start_period)
            }),
        );
        if !self.depends_on.is_empty() {
            let mut deps = Doc::map();
            for dep in &self.depends_on {
                deps.insert(*dep, doc!({ "condition": "service_healthy" }));
            }
            d.insert("depends_on", deps);
        }
        d
    }
}

/// The stack derived from the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Stack {
    pub services: Vec<Service>,
    /// The API path the health probe GETs: the metrics endpoint (open, no
    /// database round trip), else FastAPI's `/openapi.json`.
    pub health_path: String,
    /// The metrics endpoint Prometheus scrapes, when the backlog has one.
    pub metrics_path: Option<String>,
    /// `<service>` in snake case: database, user and bucket names.
    pub name: String,
    pub slug: String,
}

/// `${VAR:?set VAR}`: compose refuses to start while `VAR` is unset or empty.
pub fn required(var: &str) -> String {
    format!("${{{var}:?set {var}}}")
}

/// The `${VAR:?…}` variables of a text, in order of appearance, deduplicated.
pub fn required_vars(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        rest = &rest[at + 2..];
        let end = rest.find(['}', ':', '-', '?']).unwrap_or(rest.len());
        let var = &rest[..end];
        if rest[end..].starts_with(":?") && !var.is_empty() && !out.iter().any(|v| v == var) {
            out.push(var.to_string());
        }
    }
    out
}

fn ports(host_port: u16, container_port: u16, public: bool) -> Doc {
    let bind = if public { String::new() } else { "127.0.0.1:".to_string() };
    doc!([(format!("{bind}{host_port}:{container_port}"))])
}

fn scripts_volume() -> String {
    format!("./{HEALTH_DIR}:{SCRIPTS_MOUNT}:ro")
}

fn script_check(script: &str) -> Vec<String> {
    vec!["sh".into(), format!("{SCRIPTS_MOUNT}/{script}")]
}

/// A Docker image tag from the service version (`[A-Za-z0-9_.-]`, ≤ 128).
fn tag(version: &str) -> String {
    let t: String = version.chars().filter(|c| c.is_ascii_alphanumeric() || "_.-".contains(*c)).take(128).collect();
    if t.is_empty() || t.starts_with(['.', '-']) { "latest".into() } else { t }
}

impl Stack {
    pub fn new(model: &ServiceModel) -> Stack {
        let name = model.service.name.clone();
        let slug = match names::slug(&name) {
            s if s.is_empty() => "service".to_string(),
            s => s,
        };
        let metrics_path = model.endpoints.iter().find(|e| e.kind == EndpointKind::Metrics).map(|e| e.path.clone());
        let health_path = metrics_path.clone().unwrap_or_else(|| "/openapi.json".to_string());
        let env = env_prefix(model);
        // The database and its user are named after the service (snake case:
        // a PostgreSQL identifier); `db` when the name would not be one.
        let db = if name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            name.clone()
        } else {
            "db".to_string()
        };
        let token = format!("{env}_API_TOKEN");

        let api = Service {
            name: "api",
            image: format!("{slug}-api:{}", tag(&model.service.version)),
            check: script_check("check_api.sh"),
            timing: TIMING,
            depends_on: vec!["postgres", "mosquitto", "minio"],
            rest: vec![
                ("build".into(), doc!({ "context": ".", "dockerfile": API_DOCKERFILE })),
                (
                    "command".into(),
                    doc!(["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", (API_PORT.to_string()), "--proxy-headers"]),
                ),
                (
                    "environment".into(),
                    doc!({
                        (token.as_str()): (required(&token)),
                        "DATABASE_URL": (format!(
                            "postgresql://{db}:{}@postgres:{PG_PORT}/{db}?sslmode=${{POSTGRES_SSLMODE:-prefer}}",
                            required("POSTGRES_PASSWORD")
                        )),
                        "MQTT_URL": (format!("mqtts://mosquitto:{MQTT_PORT}")),
                        "MQTT_CA_FILE": "/etc/ssl/mqtt/ca.crt",
                        "MQTT_USERNAME": (format!("${{MQTT_USERNAME:-{slug}-api}}")),
                        "MQTT_PASSWORD": (required("MQTT_PASSWORD")),
                        "AWS_ACCESS_KEY_ID": (required("MINIO_ROOT_USER")),
                        "AWS_SECRET_ACCESS_KEY": (required("MINIO_ROOT_PASSWORD")),
                        "S3_ENDPOINT": (format!("http://minio:{MINIO_PORT}")),
                        "S3_BUCKET": (format!("${{S3_BUCKET:-{slug}-artifacts}}")),
                        "S3_REGION": "us-east-1",
                        "API_URL": (format!("http://127.0.0.1:{API_PORT}")),
                        "API_HEALTH_PATH": (health_path.as_str())
                    }),
                ),
                ("ports".into(), ports(API_PORT, API_PORT, true)),
                (
                    "volumes".into(),
                    doc!([(scripts_volume()), (format!("./{MOSQUITTO_CONF_DIR}/ca.crt:/etc/ssl/mqtt/ca.crt:ro"))]),
                ),
            ],
        };
        let mosquitto = Service {
            name: "mosquitto",
            image: MOSQUITTO_IMAGE.into(),
            check: script_check("check_mqtt.sh"),
            timing: TIMING,
            depends_on: vec![],
            rest: vec![
                ("environment".into(), doc!({ "MQTT_URL": (format!("mqtts://127.0.0.1:{MQTT_PORT}")) })),
                ("ports".into(), ports(MQTT_PORT, MQTT_PORT, false)),
                (
                    "volumes".into(),
                    doc!([
                        (format!("./{MOSQUITTO_CONF_DIR}:/mosquitto/config:ro")),
                        "mosquitto-data:/mosquitto/data",
                        (scripts_volume())
                    ]),
                ),
            ],
        };
        let postgres = Service {
            name: "postgres",
            image: TIMESCALE_IMAGE.into(),
            check: script_check("check_postgres.sh"),
            timing: DB_TIMING,
            depends_on: vec![],
            rest: vec![
                (
                    "environment".into(),
                    doc!({
                        "POSTGRES_USER": (db.as_str()),
                        "POSTGRES_DB": (db.as_str()),
                        "POSTGRES_PASSWORD": (required("POSTGRES_PASSWORD"))
                    }),
                ),
                ("ports".into(), ports(PG_PORT, PG_PORT, false)),
                (
                    "volumes".into(),
                    doc!([
                        "pgdata:/var/lib/postgresql/data",
                        (format!("./{}:/docker-entrypoint-initdb.d:ro", dir_of(paths::MIGRATION))),
                        (scripts_volume())
                    ]),
                ),
            ],
        };
        let minio = Service {
            name: "minio",
            image: MINIO_IMAGE.into(),
            // The image has no shell tools for the scripts; `mc ready` is MinIO's own probe.
            check: vec!["mc".into(), "ready".into(), "local".into()],
            timing: TIMING,
            depends_on: vec![],
            rest: vec![
                (
                    "command".into(),
                    doc!(["server", "/data", "--console-address", (format!(":{MINIO_CONSOLE_PORT}"))]),
                ),
                (
                    "environment".into(),
                    doc!({
                        "MINIO_ROOT_USER": (required("MINIO_ROOT_USER")),
                        "MINIO_ROOT_PASSWORD": (required("MINIO_ROOT_PASSWORD"))
                    }),
                ),
                (
                    "ports".into(),
                    doc!([
                        (format!("127.0.0.1:{MINIO_PORT}:{MINIO_PORT}")),
                        (format!("127.0.0.1:{MINIO_CONSOLE_PORT}:{MINIO_CONSOLE_PORT}"))
                    ]),
                ),
                ("volumes".into(), doc!(["minio-data:/data"])),
            ],
        };
        let prometheus = Service {
            name: "prometheus",
            image: PROMETHEUS_IMAGE.into(),
            check: script_check("check_prometheus.sh"),
            timing: TIMING,
            depends_on: vec!["api"],
            rest: vec![
                ("ports".into(), ports(PROMETHEUS_PORT, PROMETHEUS_PORT, false)),
                (
                    "volumes".into(),
                    doc!([
                        (format!("./{PROMETHEUS_CONFIG}:/etc/prometheus/prometheus.yml:ro")),
                        (format!("./{}:/etc/prometheus/rules/rules.yml:ro", paths::PROM_RULES)),
                        "prometheus-data:/prometheus",
                        (scripts_volume())
                    ]),
                ),
            ],
        };
        let grafana = Service {
            name: "grafana",
            image: GRAFANA_IMAGE.into(),
            check: script_check("check_grafana.sh"),
            timing: TIMING,
            depends_on: vec!["prometheus"],
            rest: vec![
                (
                    "environment".into(),
                    doc!({
                        "GF_SECURITY_ADMIN_USER": "${GRAFANA_ADMIN_USER:-admin}",
                        "GF_SECURITY_ADMIN_PASSWORD": (required("GRAFANA_ADMIN_PASSWORD")),
                        "GF_USERS_ALLOW_SIGN_UP": "false"
                    }),
                ),
                ("ports".into(), ports(GRAFANA_PORT, GRAFANA_PORT, false)),
                (
                    "volumes".into(),
                    doc!([
                        (format!("./{GRAFANA_PROVISIONING}:/etc/grafana/provisioning:ro")),
                        (format!("./{}:/etc/grafana/dashboards/{slug}.json:ro", paths::DASHBOARD)),
                        "grafana-data:/var/lib/grafana",
                        (scripts_volume())
                    ]),
                ),
            ],
        };
        Stack {
            services: vec![api, mosquitto, postgres, minio, prometheus, grafana],
            health_path,
            metrics_path,
            name: db,
            slug,
        }
    }

    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    /// `docker-compose.yml`: the services, then their named volumes.
    pub fn compose(&self) -> Doc {
        let mut services = Doc::map();
        for s in &self.services {
            services.insert(s.name, s.doc());
        }
        let mut volumes = Doc::map();
        for v in ["mosquitto-data", "pgdata", "minio-data", "prometheus-data", "grafana-data"] {
            volumes.insert(v, Doc::map());
        }
        doc!({ "services": services, "volumes": volumes })
    }

    /// Every `${VAR:?}` the compose file requires.
    pub fn required_env(&self) -> Vec<String> {
        let mut all = Vec::new();
        for s in &self.services {
            for v in required_vars(&s.doc().to_yaml_text()) {
                if !all.contains(&v) {
                    all.push(v);
                }
            }
        }
        all
    }

    /// What the services mount beside the other tools' artifacts.
    pub fn support_files(&self, model: &ServiceModel) -> Vec<(String, String)> {
        vec![
            (API_DOCKERFILE.into(), self.dockerfile(model)),
            (PROMETHEUS_CONFIG.into(), self.prometheus_config(model).to_yaml_text()),
            (GRAFANA_DATASOURCE.into(), grafana_datasource().to_yaml_text()),
            (GRAFANA_DASHBOARD_PROVIDER.into(), self.grafana_dashboards(model).to_yaml_text()),
        ]
    }

    fn dockerfile(&self, model: &ServiceModel) -> String {
        format!(
            "# The {title} API (generated by healthcheck_gen from {source}): the package `{app}/`\n\
             # (fastapi_gen, mqtt_client, tsdb_adapter, minio_client, otel_instrument)\n\
             # served by uvicorn. Build from the workspace root: docker-compose build api\n\
             FROM {PYTHON_IMAGE}\n\
             ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1\n\
             WORKDIR /srv\n\
             # What the app imports at run time: the web stack, PostgreSQL (DATABASE_URL),\n\
             # MQTT (MQTT_URL), S3 (httpx) and OIDC bearer tokens.\n\
             RUN pip install --no-cache-dir \"fastapi>=0.110\" \"pydantic>=2.6\" \"uvicorn>=0.29\" \\\n    \
             \"asyncpg>=0.29\" \"paho-mqtt>=2.0\" \"httpx>=0.27\" \"pyjwt[crypto]>=2.8\"\n\
             COPY {app}/ ./{app}/\n\
             USER 65534:65534\n\
             EXPOSE {API_PORT}\n\
             CMD [\"uvicorn\", \"app.main:app\", \"--host\", \"0.0.0.0\", \"--port\", \"{API_PORT}\"]\n",
            title = model.service.title,
            source = model.source,
            app = paths::APP,
        )
    }

    fn prometheus_config(&self, model: &ServiceModel) -> Doc {
        let mut d = doc!({
            "global": { "scrape_interval": "15s", "evaluation_interval": "15s" },
            "rule_files": ["/etc/prometheus/rules/rules.yml"]
        });
        let mut scrapes = vec![doc!({
            "job_name": "prometheus",
            "static_configs": [{ "targets": [(format!("localhost:{PROMETHEUS_PORT}"))] }]
        })];
        if let Some(path) = &self.metrics_path {
            scrapes.push(doc!({
                "job_name": (format!("{}-api", self.slug)),
                "metrics_path": (path.as_str()),
                "static_configs": [{
                    "targets": [(format!("api:{API_PORT}"))],
                    "labels": { "service": (model.service.name.as_str()) }
                }]
            }));
        }
        d.insert("scrape_configs", Doc::Seq(scrapes));
        d
    }

    fn grafana_dashboards(&self, model: &ServiceModel) -> Doc {
        doc!({
            "apiVersion": 1,
            "providers": [{
                "name": (self.slug.as_str()),
                "folder": (model.service.title.as_str()),
                "type": "file",
                "disableDeletion": true,
                "allowUiUpdates": false,
                "options": { "path": "/etc/grafana/dashboards" }
            }]
        })
    }
}

/// The Prometheus data source the dashboard's `datasource` variable selects.
fn grafana_datasource() -> Doc {
    doc!({
        "apiVersion": 1,
        "datasources": [{
            "name": "Prometheus",
            "type": "prometheus",
            "uid": "prometheus",
            "access": "proxy",
            "url": (format!("http://prometheus:{PROMETHEUS_PORT}")),
            "isDefault": true,
            "editable": false
        }]
    })
}

/// `migrations/001_init.sql` → `migrations`.
fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or(".", |(d, _)| d)
}

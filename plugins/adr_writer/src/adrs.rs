//! What `adr_writer` does beside its `Input`, `Output` and `impl Tool` (in `lib.rs`).

use super::*;

#[derive(Debug, Deserialize)]
pub(crate) struct RawFailures {
    #[serde(default)]
    pub(crate) failures: Vec<Failure>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Failure {
    #[serde(default)]
    pub check: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub item: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawSnapshot {
    pub(crate) files: Option<Vec<String>>,
}

/// The order to decide in, and each item's planned action.
pub struct Plan {
    /// `(item id, action, position)` in plan order.
    pub tasks: Vec<(String, String, usize)>,
    pub from_planner: bool,
}

impl Plan {
    pub(crate) fn from_previous(previous: Option<&Value>, model: &ServiceModel, failures: &[Failure]) -> Plan {
        let tasks = previous
            .and_then(|p| p.get("session_plan"))
            .and_then(|p| p.get("tasks"))
            .and_then(Value::as_array);
        if let Some(tasks) = tasks {
            let list: Vec<(String, String, usize)> = tasks
                .iter()
                .enumerate()
                .filter_map(|(i, t)| {
                    let id = t.get("id")?.as_str()?.to_string();
                    let action = t.get("action").and_then(Value::as_str).unwrap_or("create").to_string();
                    model.item(&id).map(|_| (id, action, i + 1))
                })
                .collect();
            if !list.is_empty() {
                return Plan { tasks: list, from_planner: true };
            }
        }
        let tasks = model
            .items
            .iter()
            .enumerate()
            .map(|(i, it)| {
                let fix = failures.iter().any(|f| f.item.as_deref() == Some(it.id.as_str()));
                (it.id.clone(), if fix { "fix" } else { "create" }.to_string(), i + 1)
            })
            .collect();
        Plan { tasks, from_planner: false }
    }
}

pub struct Record {
    pub file: String,
    pub text: String,
    pub meta: WrittenAdr,
}

pub struct Records {
    pub write: Vec<Record>,
    pub skipped: Vec<String>,
}

pub(crate) fn file_name(number: u32, title: &str) -> String {
    let mut slug = names::slug(title);
    if slug.len() > 60 {
        // Cut at the last word boundary within 60 characters.
        let cut = slug[..=60].rfind('-').unwrap_or(60);
        slug.truncate(cut);
    }
    format!("{}/{number:04}-{slug}.md", paths::ADR_DIR)
}

pub fn decide(model: &ServiceModel, plan: &Plan, failures: &[Failure], snapshot: &[String], existing: &[Adr]) -> Records {
    let mut next = existing.iter().map(|a| a.number).max().unwrap_or(0) + 1;
    let mut write = Vec::new();
    let mut skipped = Vec::new();
    if existing.is_empty() {
        let title = "Record architecture decisions";
        let file = file_name(next, title);
        write.push(Record {
            text: meta_adr(title, model),
            meta: WrittenAdr { number: next, file: file.clone(), title: title.into(), status: "accepted".into(), item: None, supersedes: vec![] },
            file,
        });
        next += 1;
    }
    for (id, action, position) in &plan.tasks {
        let Some(item) = model.item(id) else { continue };
        if item.kind == ItemKind::Other {
            skipped.push(format!("`{id}`: no architecture decision in it"));
            continue;
        }
        let fails: Vec<&Failure> = failures.iter().filter(|f| f.item.as_deref() == Some(id.as_str())).collect();
        let earlier: Vec<&Adr> = existing.iter().filter(|a| a.item.as_deref() == Some(id.as_str())).collect();
        let supersedes: Vec<u32> = if fails.is_empty() {
            if let Some(a) = earlier.last() {
                skipped.push(format!("`{id}`: decided in {} and no check failed on it", a.file));
                continue;
            }
            Vec::new()
        } else {
            earlier.iter().filter(|a| !a.status.starts_with("superseded")).map(|a| a.number).collect()
        };
        let d = decision(model, item);
        let file = file_name(next, &d.title);
        let text = render(model, item, &d, action, *position, plan.from_planner, &fails, snapshot, &supersedes, existing);
        write.push(Record {
            meta: WrittenAdr {
                number: next,
                file: file.clone(),
                title: d.title.clone(),
                status: "accepted".into(),
                item: Some(id.clone()),
                supersedes,
            },
            file,
            text,
        });
        next += 1;
    }
    Records { write, skipped }
}

pub(crate) fn meta_adr(title: &str, model: &ServiceModel) -> String {
    format!(
        "---\nstatus: accepted\ndecision-makers: project_manager (planning stage)\n---\n\n# {title}\n\n\
         ## Context and Problem Statement\n\n\
         The {svc} service is built by agents in a pipeline: decisions made in one session must be\n\
         visible to the next, and to people reviewing the generated code.\n\n\
         ## Considered Options\n\n\
         * MADR decision records under `docs/adr/`, numbered, one decision each\n\
         * Decisions in commit messages and pull requests only\n\
         * A single design document edited in place\n\n\
         ## Decision Outcome\n\n\
         Chosen option: \"MADR decision records under `docs/adr/`\", because they are append-only like the\n\
         pipeline's workspace (`add_only`), reviewable one decision at a time, and a superseded decision\n\
         stays readable next to the one replacing it.\n\n\
         ### Consequences\n\n\
         * Good, because `adr_writer` records each session's decisions and `adr_manager` keeps the index\n  \
         (`docs/adr/index.md`) with every record's status and supersedes links.\n\
         * Bad, because a record is never edited: a changed decision is a new record that supersedes the old.\n",
        svc = model.service.title
    )
}

/// What is decided for an item.
pub struct Decision {
    pub title: String,
    pub options: Vec<String>,
    pub because: String,
    pub good: Vec<String>,
    pub bad: Vec<String>,
    pub confirmation: Vec<String>,
}

pub(crate) fn decision(model: &ServiceModel, item: &Item) -> Decision {
    let endpoints: Vec<&service_model::Endpoint> = model.endpoints.iter().filter(|e| e.item == item.id).collect();
    let ops: Vec<String> = endpoints.iter().map(|e| format!("`{}` ({})", e.label(), e.operation_id)).collect();
    match item.kind {
        ItemKind::Crud => {
            let r = model.resources.iter().find(|r| r.item == item.id);
            let plural = r.map(|r| r.name.clone()).unwrap_or_else(|| item.resource.clone().unwrap_or_default());
            let singular = r.map(|r| r.singular.clone()).unwrap_or_else(|| plural.clone());
            Decision {
                title: format!("Serve {plural} through an async FastAPI router with PostgreSQL storage"),
                options: vec![
                    "Async FastAPI router, pydantic models mirroring the OpenAPI schemas, an in-memory repository for tests and asyncpg on PostgreSQL/TimescaleDB in production".into(),
                    "Synchronous Flask blueprint with SQLAlchemy".into(),
                    format!("Keep {plural} as JSON documents in the S3-compatible object store"),
                ],
                because: "the pydantic models and the OpenAPI document come from one service model, handlers never block \
                          the event loop while events are published, and one repository interface runs in memory for \
                          tests and on PostgreSQL in production"
                    .into(),
                good: vec![
                    format!("{} with a bearer token required on every mutation", ops.join(", ")),
                    format!("every change publishes `{singular}.created`, `{singular}.updated` or `{singular}.deleted` to MQTT"),
                    "the test suite runs in-process (httpx.ASGITransport) without a database".into(),
                ],
                bad: vec![
                    "two repository implementations (`app/repository.py`, `app/repository_pg.py`) must keep one interface".into(),
                ],
                confirmation: endpoints
                    .iter()
                    .map(|e| format!("`tests/test_api.py::test_{}` passes", e.operation_id))
                    .chain(["`migrations/001_init.sql` applies to PostgreSQL".to_string()])
                    .collect(),
            }
        }
        ItemKind::Contracts => {
            let schemas: Vec<String> = model.events.iter().map(|e| format!("`{}`", e.schema_file())).collect();
            Decision {
                title: "Describe every bus event with a JSON Schema".into(),
                options: vec![
                    "One JSON Schema (draft 2020-12) per event type under `schemas/events/`, with valid examples, embedded in the OpenAPI 3.1 components".into(),
                    "An AsyncAPI document".into(),
                    "Protocol Buffers messages".into(),
                ],
                because: "OpenAPI 3.1 schemas are JSON Schema 2020-12, so the HTTP API and the MQTT bus share one \
                          contract that standard validators (jsonschema_lint, jsonschema) check"
                    .into(),
                good: vec![
                    format!("the schemas {}", if schemas.is_empty() { "follow the event types".into() } else { schemas.join(", ") }),
                    "every published event and every example is validated against its schema in the test suite and by `contract_compliance`".into(),
                ],
                bad: vec!["JSON Schema describes payloads, not topics: topics are documented next to the schemas".into()],
                confirmation: vec![
                    "`contract_compliance` passes".into(),
                    "`tests/test_api.py::test_contract_event_examples_match_their_schemas` passes".into(),
                ],
            }
        }
        ItemKind::EventIngest => {
            let topics: Vec<String> = endpoints
                .iter()
                .flat_map(|e| e.events.iter())
                .filter_map(|n| model.event(n))
                .map(|ev| format!("`{}`", ev.topic))
                .collect();
            let topic = topics.first().cloned().unwrap_or_else(|| "MQTT".into());
            Decision {
                title: format!("Validate events and publish them on {} with the caller's trace_id", topic.trim_matches('`')),
                options: vec![
                    "Validate each event against its JSON Schema (trace_id required) before publishing with QoS 1, the W3C traceparent as an MQTT v5 user property".into(),
                    "Publish what is received and let subscribers validate".into(),
                    "Deliver events by HTTP webhooks instead of MQTT".into(),
                ],
                because: "an event that breaks its contract (e.g. no trace_id) is refused with 422 before it reaches \
                          the bus, and subscribers continue the caller's trace"
                    .into(),
                good: vec![
                    format!("{} publishes to {}", ops.join(", "), topics.join(", ")),
                    "a payload without trace_id never reaches the bus".into(),
                ],
                bad: vec!["publishing waits for the broker's acknowledgement (503 when it does not come)".into()],
                confirmation: endpoints
                    .iter()
                    .flat_map(|e| [format!("`tests/test_api.py::test_{}` passes", e.operation_id), format!("`tests/test_api.py::test_{}_requires_trace_id` passes", e.operation_id)])
                    .collect(),
            }
        }
        ItemKind::Metrics => {
            let slos: Vec<String> = model
                .endpoints
                .iter()
                .map(|e| format!("`{}`: p95 ≤ {} s, {} %", e.operation_id, e.slo.latency_seconds(), e.slo.availability_percent()))
                .collect();
            Decision {
                title: "Expose Prometheus metrics with a latency and availability SLO per endpoint".into(),
                options: vec![
                    "Per-endpoint request counters and latency histograms in the Prometheus text format, OpenTelemetry spans for traces, recording and alerting rules and a dashboard generated from the same endpoint list".into(),
                    "The prometheus_client library with default metrics only".into(),
                    "OpenTelemetry metrics exported to a collector".into(),
                ],
                because: "every endpoint gets a metric, a rule and a panel from one list, which `observability_check` \
                          verifies, and `/metrics` needs no extra dependency"
                    .into(),
                good: vec![format!("SLOs: {}", slos.join("; ")), format!("{} on {}", model.metrics.iter().map(|m| format!("`{}`", m.name)).collect::<Vec<_>>().join(", "), ops.join(", "))],
                bad: vec!["per-endpoint alerting rules grow with the number of endpoints".into()],
                confirmation: vec!["`observability_check` passes".into(), "`observability/prometheus/rules.yml` parses".into()],
            }
        }
        ItemKind::Docs | ItemKind::Other => Decision {
            title: "Document the service with MkDocs generated from its artifacts".into(),
            options: vec![
                "An MkDocs site generated from the OpenAPI document, the event schemas, the migrations, the observability files and these records, built with `--strict`".into(),
                "Sphinx".into(),
                "A hand-written README".into(),
            ],
            because: "pages generated from the artifacts cannot drift from them, and `mkdocs build --strict` fails on a broken link".into(),
            good: vec!["every endpoint is listed with a request and a response example".into()],
            bad: vec!["prose beyond what the artifacts say is written by people, outside the generated pages".into()],
            confirmation: vec!["`mkdocs build --strict` succeeds".into()],
        },
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn render(
    model: &ServiceModel,
    item: &Item,
    d: &Decision,
    action: &str,
    position: usize,
    from_planner: bool,
    fails: &[&Failure],
    snapshot: &[String],
    supersedes: &[u32],
    existing: &[Adr],
) -> String {
    let mut md = String::from("---\nstatus: accepted\ndecision-makers: project_manager (planning stage)\n");
    md.push_str(&format!("backlog-item: {}\n", item.id));
    match supersedes {
        [] => {}
        [one] => md.push_str(&format!("supersedes: \"{one:04}\"\n")),
        many => md.push_str(&format!(
            "supersedes: [{}]\n",
            many.iter().map(|n| format!("\"{n:04}\"")).collect::<Vec<_>>().join(", ")
        )),
    }
    md.push_str(&format!("---\n\n# {}\n\n## Context and Problem Statement\n\n", d.title));
    if let Some(desc) = &item.description {
        md.push_str(&format!("{desc}\n\n"));
    }
    md.push_str(&format!(
        "Backlog item `{}` (\"{}\", priority {}) is task {position} of the session plan{}, action: {action}.\n",
        item.id,
        item.title,
        item.priority,
        if from_planner { "" } else { " (backlog order; the planner's plan was not given)" },
    ));
    if let Some(res) = &item.resource {
        let key = res.trim_end_matches('s');
        let found: Vec<&String> = snapshot.iter().filter(|f| f.contains(key)).collect();
        if !found.is_empty() {
            md.push_str(&format!(
                "The workspace already has {}: the decision extends it.\n",
                found.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    for f in fails {
        md.push_str(&format!("\nThe last run failed check `{}` on this item: {}\n", f.check, f.message));
    }
    md.push_str("\n## Decision Drivers\n\n");
    let mut drivers: Vec<String> = item.acceptance.clone();
    drivers.extend(fails.iter().map(|f| format!("check `{}` passes", f.check)));
    drivers.push("the workspace is add-only: generated files never overwrite existing ones".into());
    for dr in drivers {
        md.push_str(&format!("* {dr}\n"));
    }
    md.push_str("\n## Considered Options\n\n");
    for o in &d.options {
        md.push_str(&format!("* {o}\n"));
    }
    md.push_str(&format!(
        "\n## Decision Outcome\n\nChosen option: \"{}\", because {}.\n\n### Consequences\n\n",
        d.options.first().map(String::as_str).unwrap_or(""),
        d.because.split_whitespace().collect::<Vec<_>>().join(" ")
    ));
    for g in &d.good {
        md.push_str(&format!("* Good, because {g}.\n"));
    }
    for b in &d.bad {
        md.push_str(&format!("* Bad, because {b}.\n"));
    }
    md.push_str("\n### Confirmation\n\n");
    for c in &d.confirmation {
        md.push_str(&format!("* {c}\n"));
    }
    if !supersedes.is_empty() {
        md.push_str("\n## More Information\n\n");
        for n in supersedes {
            if let Some(a) = existing.iter().find(|a| a.number == *n) {
                let name = a.file.rsplit('/').next().unwrap_or(&a.file);
                md.push_str(&format!("Supersedes [ADR-{n:04}]({name}) (\"{}\").\n", a.title));
            }
        }
    }
    let _ = model;
    md
}

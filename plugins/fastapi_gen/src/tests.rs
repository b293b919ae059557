use super::*;
use serde_json::json;
use taylordash_sdk::testing::Harness;

const BACKLOG: &str = include_str!("../../../pipelines/examples/backlog.yaml");

fn run_example() -> (Harness, FastapiGenOutput) {
    let h = Harness::new();
    h.write_workspace("backlog.yaml", BACKLOG);
    let out = h.run::<FastapiGen>(json!({ "task": { "attempt": 1 } })).unwrap();
    (h, out)
}

#[test]
fn writes_the_package() {
    let (h, out) = run_example();
    assert_eq!(
        out.files,
        [
            "app/__init__.py",
            "app/settings.py",
            "app/security.py",
            "app/middleware.py",
            "app/context.py",
            "app/models.py",
            "app/repository.py",
            "app/routers/__init__.py",
            "app/routers/projects.py",
            "app/routers/events.py",
            "app/routers/observability.py",
            "app/main.py",
            "requirements.txt",
        ]
    );
    assert_eq!(
        out.routers,
        [
            "app/routers/projects.py: `projects` CRUD under /api/v1/projects (item `projects-crud`)",
            "app/routers/events.py: POST /api/v1/events (publishes to MQTT)",
            "app/routers/observability.py: GET /metrics",
        ]
    );
    assert_eq!(out.token_env, "TAYLORDASH_API_TOKEN");
    for f in &out.files {
        assert!(!h.out_file(f).contains("@@"), "{f} has an unfilled placeholder");
    }
    let main = h.out_file("app/main.py");
    assert!(main.contains("from app.routers import events, observability, projects\nfrom app.security import require_reader\n"));
    assert!(main.contains(
        "    app.include_router(projects.router, dependencies=[Depends(require_reader)])\n    \
         app.include_router(events.router, dependencies=[Depends(require_reader)])\n    \
         app.include_router(observability.router)\n"
    ));
    assert!(main.contains("TITLE = \"TaylorDash API\"\n"));
}

#[test]
fn every_operation_of_the_model_is_routed_once() {
    let (h, out) = run_example();
    let routers: String = out
        .files
        .iter()
        .filter(|f| f.starts_with("app/routers/"))
        .map(|f| h.out_file(f))
        .collect();
    for op in ["list_projects", "create_project", "get_project", "update_project", "delete_project", "publish_event", "get_metrics"] {
        assert_eq!(routers.matches(&format!("operation_id=\"{op}\"")).count(), 1, "{op}");
        assert_eq!(routers.matches(&format!("async def {op}(")).count(), 1, "{op}");
    }
}

#[test]
fn mutating_routes_depend_on_the_token_and_reads_do_not() {
    let (h, _) = run_example();
    let projects = h.out_file("app/routers/projects.py");
    let blocks: Vec<&str> = projects.split("@router.").skip(1).collect();
    assert_eq!(blocks.len(), 5);
    for b in blocks {
        let mutating = b.starts_with("post") || b.starts_with("patch") || b.starts_with("delete");
        assert_eq!(b.contains("dependencies=[Depends(require_token)]"), mutating, "{b}");
    }
    assert!(h.out_file("app/routers/events.py").contains("dependencies=[Depends(require_token)]"));
    let security = h.out_file("app/security.py");
    assert!(security.contains("hmac.compare_digest"));
    assert!(h.out_file("app/settings.py").contains("API_TOKEN_ENV = \"TAYLORDASH_API_TOKEN\""));
}

#[test]
fn oidc_jwts_with_realm_roles_when_the_issuer_is_configured() {
    let (h, _) = run_example();
    let settings = h.out_file("app/settings.py");
    for line in [
        "OIDC_ISSUER_ENV = \"TAYLORDASH_OIDC_ISSUER\"\n",
        "OIDC_AUDIENCE_ENV = \"TAYLORDASH_OIDC_AUDIENCE\"\n",
        "OIDC_PUBLIC_KEY_ENV = \"TAYLORDASH_OIDC_PUBLIC_KEY\"\n",
        "OIDC_PUBLIC_KEY_FILE_ENV = \"TAYLORDASH_OIDC_PUBLIC_KEY_FILE\"\n",
        "    oidc_issuer: str | None = None\n",
        "            oidc_public_key=_oidc_public_key(),\n",
    ] {
        assert!(settings.contains(line), "{line}");
    }
    let security = h.out_file("app/security.py");
    for line in [
        "WRITE_ROLES = frozenset({\"admin\", \"maintainer\"})\n",
        "READ_ROLES = WRITE_ROLES | {\"viewer\"}\n",
        "ALGORITHMS = [\"RS256\"]\n",
        "            algorithms=ALGORITHMS,\n            audience=settings.oidc_audience,\n            issuer=settings.oidc_issuer,\n",
        "            options={\"require\": [\"exp\", \"iss\", \"aud\"]},\n",
        "    access = claims.get(\"realm_access\")\n",
        "        _require_role(request, WRITE_ROLES, \"changing data\")\n",
        "        _require_role(request, READ_ROLES, \"reading\")\n",
        "            status_code=status.HTTP_403_FORBIDDEN,\n",
        "- OIDC, when `TAYLORDASH_OIDC_ISSUER` is set",
    ] {
        assert!(security.contains(line), "{line}");
    }
    // The static token's check is what it was: the generated suite relies on it.
    assert!(security.contains(
        "    expected = request.app.state.settings.api_token\n    \
         supplied = credentials.credentials if credentials is not None else \"\"\n    \
         if not expected or not hmac.compare_digest(supplied.encode(), expected.encode()):\n"
    ));
    // PyJWT only in OIDC mode: no import at module level.
    assert!(!security.lines().any(|l| l.starts_with("import jwt") || l.starts_with("from jwt")));
    assert!(h.out_file("app/main.py").contains("from fastapi import Depends, FastAPI\n"));
    let requirements = h.out_file("requirements.txt");
    assert!(requirements.starts_with("# What the TaylorDash API needs at run time (generated by fastapi_gen from `backlog.yaml`):\n"));
    assert!(requirements.contains("\npyjwt[crypto]>=2.8\n"));
    assert!(requirements.contains("\nfastapi>=0.110\n") && requirements.contains("\nuvicorn>=0.29\n"));
}

#[test]
fn hsts_is_on_every_response() {
    let (h, _) = run_example();
    assert!(h.out_file("app/middleware.py").contains("STRICT_TRANSPORT_SECURITY = \"Strict-Transport-Security\""));
    assert!(h.out_file("app/settings.py").contains("HSTS_MAX_AGE = 63072000\n"));
    assert!(h.out_file("app/main.py").contains("app.add_middleware(\n        SecurityHeadersMiddleware,"));
}

#[test]
fn models_mirror_the_contracts() {
    let (h, _) = run_example();
    let models = h.out_file("app/models.py");
    assert!(models.contains("class ProjectCreate(BaseModel):"));
    assert!(models.contains("    name: str = Field(min_length=1, max_length=200, description=\"Human-readable name of the project.\")\n"));
    assert!(models.contains("    description: str = Field(default=None, max_length=2000,"));
    assert!(models.contains("    description: Optional[str] = Field(default=None, max_length=2000,"));
    assert!(models.contains(
        "class ProjectEvent(BaseModel):\n    \"\"\"Project event on tracker/events/{project_id}: `schemas/events/project_event.schema.json`.\"\"\"\n"
    ));
    assert!(models.contains("    type: Literal[\"project.created\", \"project.updated\", \"project.deleted\"]\n"));
    assert!(models.contains("    project_id: str = Field(pattern=SLUG)\n    trace_id: str = Field(pattern=TRACE_ID)\n"));
    assert!(models.contains("SLUG = r\"^[a-z0-9-]+$\"\nTRACE_ID = r\"^[0-9a-f]{32}$\"\n"));
    let events = h.out_file("app/routers/events.py");
    assert!(events.contains("async def publish_event(event: ProjectEvent, request: Request) -> PublishReceipt:"));
    assert!(events.contains("SCHEMAS = {\n    ProjectEvent: \"project_event\",\n}"));
}

#[test]
fn custom_fields_and_two_event_types() {
    let h = Harness::new();
    let backlog = json!({ "items": [
        { "id": "t", "title": "Tasks CRUD", "resource": "tasks",
          "fields": [ { "name": "title", "type": "string", "required": true },
                      { "name": "due", "type": "date" }, { "name": "done", "type": "boolean" } ] },
        { "id": "p", "title": "Projects CRUD", "resource": "projects" },
        { "id": "e", "title": "Events", "description": "POST /api/v1/events publishes to MQTT", "resource": "events" }
    ]});
    let out = h.run::<FastapiGen>(json!({ "backlog": backlog })).unwrap();
    assert!(out.files.contains(&"app/routers/tasks.py".to_string()));
    let models = h.out_file("app/models.py");
    assert!(models.contains("from datetime import date, datetime\n"));
    assert!(models.contains("    due: Optional[date] = Field(default=None, description=\"Due.\")\n"));
    assert!(models.contains("    done: Optional[bool] = None\n"));
    let events = h.out_file("app/routers/events.py");
    assert!(events.contains("async def publish_event(event: TaskEvent | ProjectEvent, request: Request)"));
    assert!(h.out_file("app/routers/tasks.py").contains("task_id = data.pop(\"id\", None) or _slug(str(data.get(\"title\") or \"\"))"));
}

#[test]
fn output_is_byte_identical_across_runs() {
    let files = || {
        let (h, out) = run_example();
        out.files.iter().map(|f| (f.clone(), h.out_file(f))).collect::<Vec<_>>()
    };
    assert_eq!(files(), files());
}

#[test]
fn a_broken_backlog_names_file_and_field() {
    let h = Harness::new();
    h.write_workspace("backlog.json", r#"{"items": [{"id": "a", "title": "A", "resource": "9 lives"}]}"#);
    assert_eq!(
        h.run::<FastapiGen>(json!({})).unwrap_err(),
        ToolError::InvalidInput("backlog.json: items[0].resource `9 lives` must be a name starting with a letter (e.g. `projects`)".into())
    );
}

#[test]
fn describe_names_the_tool_after_its_crate() {
    let info = taylordash_sdk::describe::<FastapiGen>(env!("CARGO_PKG_VERSION"));
    assert_eq!(info.name, env!("CARGO_PKG_NAME"));
}

#[test]
fn lists_the_library_research_in_the_workspace() {
    let (_h, out) = run_example();
    assert!(out.research.is_empty());
    let json = serde_json::to_value(&out).unwrap();
    assert!(json.get("research").is_none(), "absent when there is none: {json}");

    let h = Harness::new();
    h.write_workspace("backlog.yaml", BACKLOG);
    h.write_workspace("docs/libraries/tiangolo_fastapi.md", "# FastAPI");
    h.write_workspace("docs/libraries/eclipse_paho.mqtt.python.md", "# paho");
    h.write_workspace("docs/libraries/notes.txt", "not research");
    let out = h.run::<FastapiGen>(json!({})).unwrap();
    assert_eq!(out.research, ["docs/libraries/eclipse_paho.mqtt.python.md", "docs/libraries/tiangolo_fastapi.md"]);
    assert!(h.logs().iter().any(|(_, m)| m == "library research: docs/libraries/tiangolo_fastapi.md"));
}

//! What `fastapi_gen` does beside its `Input`, `Output` and `impl Tool` (in `lib.rs`).

use super::*;

/// The generated package: `(path, text)` in write order, and its routers.
pub struct App {
    pub files: Vec<(String, String)>,
    pub routers: Vec<String>,
}

/// The app's run-time requirements (`pip install -r requirements.txt`).
pub const REQUIREMENTS: &str = "requirements.txt";

/// Where the library research of a run lives in the workspace.
pub const RESEARCH_DIR: &str = "docs/libraries";

/// `docs/libraries/*.md` under `workspace`, as workspace-relative paths,
/// sorted; empty when the directory is absent or unreadable.
pub fn research_notes(workspace: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(workspace.join(RESEARCH_DIR)) else { return Vec::new() };
    let mut notes: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|name| name.ends_with(".md") && !name.starts_with('.'))
        .map(|name| format!("{RESEARCH_DIR}/{name}"))
        .collect();
    notes.sort();
    notes
}

pub(crate) fn env_prefix(model: &ServiceModel) -> String {
    model.service.name.to_ascii_uppercase()
}

/// A router module: its name, the endpoints it serves.
pub(crate) struct RouterModule {
    pub(crate) module: String,
    pub(crate) text: String,
    pub(crate) what: String,
    /// Its routes are the API's (in OIDC mode reads need a role too), not
    /// the scraper's `/metrics`.
    pub(crate) api: bool,
}

pub fn generate(model: &ServiceModel) -> App {
    let source = format!("`{}`", model.source);
    let title = model.service.title.clone();
    let common = [("title", title.as_str()), ("source", source.as_str())];
    let env = env_prefix(model);

    let mut modules: Vec<RouterModule> = Vec::new();
    for r in &model.resources {
        modules.push(crud_router(model, r));
    }
    let resource_names: Vec<&str> = model.resources.iter().map(|r| r.name.as_str()).collect();
    let mut publish_tags: Vec<String> = Vec::new();
    for e in model.endpoints.iter().filter(|e| e.kind == EndpointKind::Publish) {
        if !publish_tags.contains(&e.tag) {
            publish_tags.push(e.tag.clone());
        }
    }
    for tag in &publish_tags {
        let module = if resource_names.contains(&tag.as_str()) { format!("{tag}_publish") } else { tag.clone() };
        modules.push(publish_router(model, tag, &module));
    }
    if model.endpoints.iter().any(|e| e.kind == EndpointKind::Metrics) {
        modules.push(metrics_router(model));
    }

    let mut files = vec![
        ("app/__init__.py".to_string(), py::fill(templates::INIT, &common)),
        ("app/settings.py".to_string(), py::fill(templates::SETTINGS, &[common[0], common[1], ("env", &env)])),
        ("app/security.py".to_string(), py::fill(templates::SECURITY, &[("env", &env)])),
        ("app/middleware.py".to_string(), templates::MIDDLEWARE.to_string()),
        ("app/context.py".to_string(), templates::CONTEXT.to_string()),
        ("app/models.py".to_string(), models_py(model)),
        ("app/repository.py".to_string(), repository_py(model)),
        (
            "app/routers/__init__.py".to_string(),
            format!("\"\"\"The {title} API's routers, one module per resource or concern.\"\"\"\n"),
        ),
    ];
    let mut sorted: Vec<&str> = modules.iter().map(|m| m.module.as_str()).collect();
    sorted.sort();
    let router_imports = if sorted.is_empty() { String::new() } else { format!("from app.routers import {}", sorted.join(", ")) };
    let include: Vec<String> = modules
        .iter()
        .map(|m| match m.api {
            true => format!("    app.include_router({}.router, dependencies=[Depends(require_reader)])", m.module),
            false => format!("    app.include_router({}.router)", m.module),
        })
        .collect();
    let main = py::fill(
        templates::MAIN,
        &[
            common[0],
            common[1],
            ("router_imports", &router_imports),
            ("include_routers", &include.join("\n")),
            ("api_title", &py::string(&format!("{title} API"))),
            ("version", &py::string(&model.service.version)),
        ],
    );
    let mut routers = Vec::new();
    for m in modules {
        routers.push(format!("app/routers/{}.py: {}", m.module, m.what));
        files.push((format!("app/routers/{}.py", m.module), m.text));
    }
    files.push(("app/main.py".to_string(), main));
    files.push((REQUIREMENTS.to_string(), py::fill(templates::REQUIREMENTS, &[common[0], common[1], ("env", &env)])));
    App { files, routers }
}

// ---------------------------------------------------------------------------
// models.py

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Mode {
    Create,
    Update,
    Stored,
}

pub(crate) fn constraints(f: &Field, mode: Mode) -> Vec<String> {
    let mut c = Vec::new();
    if f.ty == FieldType::String {
        if f.required && mode != Mode::Stored {
            c.push("min_length=1".to_string());
        }
        if let Some(max) = f.max_length {
            c.push(format!("max_length={max}"));
        }
    }
    c
}

pub(crate) fn python_type(f: &Field, mode: Mode) -> &'static str {
    match (f.ty, mode) {
        (FieldType::DateTime, Mode::Stored) => "datetime",
        (ty, _) => ty.python(),
    }
}

pub(crate) fn field_line(f: &Field, mode: Mode) -> String {
    let ty = python_type(f, mode);
    let desc = format!("description={}", py::string(&f.description));
    let mut args = constraints(f, mode);
    match (mode, f.required) {
        (Mode::Stored, true) => format!("    {}: {ty}", f.name),
        (Mode::Stored, false) => format!("    {}: Optional[{ty}] = None", f.name),
        (Mode::Create, true) => {
            args.push(desc);
            format!("    {}: {ty} = Field({})", f.name, args.join(", "))
        }
        // Omitted = unset; an explicit null is refused (the schema says `type: string`).
        (Mode::Create, false) | (Mode::Update, true) => {
            args.insert(0, "default=None".into());
            args.push(desc);
            format!("    {}: {ty} = Field({})", f.name, args.join(", "))
        }
        (Mode::Update, false) => {
            args.insert(0, "default=None".into());
            args.push(desc);
            format!("    {}: Optional[{ty}] = Field({})", f.name, args.join(", "))
        }
    }
}

pub(crate) fn event_class(e: &EventType) -> String {
    let mut lines = vec![
        format!("class {}(BaseModel):", e.class),
        format!("    \"\"\"{}: `{}`.\"\"\"", e.title(), e.schema_file()),
        String::new(),
        "    model_config = ConfigDict(extra=\"forbid\")".into(),
        String::new(),
        "    event_id: UUID".into(),
    ];
    if e.types.is_empty() {
        lines.push("    type: str = Field(pattern=EVENT_TYPE)".into());
    } else {
        let types: Vec<String> = e.types.iter().map(|t| py::string(t)).collect();
        lines.push(format!("    type: Literal[{}]", types.join(", ")));
    }
    if let Some(k) = &e.key_field {
        lines.push(format!("    {k}: str = Field(pattern=SLUG)"));
    }
    lines.push("    trace_id: str = Field(pattern=TRACE_ID)".into());
    lines.push("    at: AwareDatetime".into());
    lines.push("    changes: dict[str, Any] = Field(default=None, min_length=1)".into());
    lines.join("\n")
}

pub(crate) fn models_py(model: &ServiceModel) -> String {
    let mut out = format!(
        "\"\"\"Pydantic models of the {} API (generated by fastapi_gen from `{}`).\n\n\
         They mirror `openapi.yaml`'s `components.schemas` and the event JSON Schemas\n\
         under `schemas/events/`: the same names, fields, patterns and lengths.\n\"\"\"\n\n",
        model.service.title, model.source
    );
    out.push_str("from __future__ import annotations\n\n");
    let uses = |ty: FieldType| model.resources.iter().any(|r| r.fields.iter().any(|f| f.ty == ty));
    if uses(FieldType::Date) {
        out.push_str("from datetime import date, datetime\n");
    } else {
        out.push_str("from datetime import datetime\n");
    }
    out.push_str("from typing import Any, Literal, Optional\n");
    out.push_str("from uuid import UUID\n\n");
    out.push_str("from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator\n\n");
    out.push_str(&format!("SLUG = r\"{SLUG_PATTERN}\"\n"));
    out.push_str(&format!("TRACE_ID = r\"{TRACE_ID_PATTERN}\"\n"));
    out.push_str(&format!("EVENT_TYPE = r\"{EVENT_TYPE_PATTERN}\"\n"));

    for r in &model.resources {
        let label = r.singular.replace('_', " ");
        out.push_str(&format!(
            "\n\nclass {c}Create(BaseModel):\n    \"\"\"A new {label}.\"\"\"\n\n    model_config = ConfigDict(extra=\"forbid\")\n\n    \
             id: str = Field(default=None, pattern=SLUG, max_length=64, description=\"Optional: defaults to the slug of the name.\")\n",
            c = r.class
        ));
        for f in &r.fields {
            out.push_str(&field_line(f, Mode::Create));
            out.push('\n');
        }
        out.push_str(&format!(
            "\n\nclass {c}Update(BaseModel):\n    \"\"\"Changes to a {label}: only the fields given change.\"\"\"\n\n    model_config = ConfigDict(extra=\"forbid\")\n\n",
            c = r.class
        ));
        for f in &r.fields {
            out.push_str(&field_line(f, Mode::Update));
            out.push('\n');
        }
        out.push_str(
            "\n    @model_validator(mode=\"after\")\n    def _not_empty(self):\n        if not self.model_fields_set:\n            \
             raise ValueError(\"give at least one field to change\")\n        return self\n",
        );
        out.push_str(&format!(
            "\n\nclass {c}(BaseModel):\n    \"\"\"A stored {label}.\"\"\"\n\n    id: str\n",
            c = r.class
        ));
        for f in &r.fields {
            out.push_str(&field_line(f, Mode::Stored));
            out.push('\n');
        }
        out.push_str("    created_at: datetime\n    updated_at: datetime\n");
    }
    for e in &model.events {
        out.push_str("\n\n");
        out.push_str(&event_class(e));
        out.push('\n');
    }
    if model.endpoints.iter().any(|e| e.kind == EndpointKind::Publish) {
        out.push_str(
            "\n\nclass PublishReceipt(BaseModel):\n    \"\"\"What the service published.\"\"\"\n\n    \
             event_id: UUID\n    type: str\n    topic: str\n",
        );
    }
    out
}

// ---------------------------------------------------------------------------
// repository.py

pub(crate) fn repository_py(model: &ServiceModel) -> String {
    let tables: Vec<String> = model
        .resources
        .iter()
        .map(|r| format!("        self.{0} = MemoryTable(\"{0}\")", r.name))
        .collect();
    py::fill(
        templates::REPOSITORY,
        &[("source", &format!("`{}`", model.source)), ("tables", &tables.join("\n"))],
    )
}

// ---------------------------------------------------------------------------
// Routers

pub(crate) fn responses(codes: &[(u16, &str)]) -> String {
    let parts: Vec<String> = codes.iter().map(|(c, d)| format!("{c}: {{\"description\": {}}}", py::string(d))).collect();
    format!("{{{}}}", parts.join(", "))
}

pub(crate) fn crud_router(model: &ServiceModel, r: &Resource) -> RouterModule {
    let ev = model.event(&r.event);
    let event_class = ev.map(|e| e.class.clone()).unwrap_or_default();
    let label = r.singular.replace('_', " ");
    let id = &r.id_param;
    let c = &r.class;
    let table = format!("request.app.state.repository.{}", r.name);
    let slug_source = match r.label_field() {
        Some(f) => format!("_slug(str(data.get({}) or \"\"))", py::string(&f.name)),
        None => "uuid.uuid4().hex[:12]".to_string(),
    };
    let ep = |kind: EndpointKind| model.endpoints.iter().find(|e| e.resource.as_deref() == Some(&r.name) && e.kind == kind);

    let mut text = format!(
        "\"\"\"`{plural}` endpoints (backlog item `{item}`), generated by fastapi_gen from `{source}`.\"\"\"\n\n\
         from __future__ import annotations\n\n\
         import logging\nimport uuid\nfrom typing import Any\n\n\
         from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, status\n\n\
         from app.context import trace_id_of, utcnow\n\
         from app.events import PublishError\n\
         from app.models import SLUG, {c}, {c}Create, {c}Update, {event_class}\n\
         from app.repository import Conflict\n\
         from app.security import require_token\n\n\
         log = logging.getLogger(__name__)\n\n\
         router = APIRouter(prefix={prefix}, tags=[{tag}])\n\n\
         #: The `{id}` path parameter: a slug, as the OpenAPI document says.\n\
         IdParam = Path(pattern=SLUG, max_length=64, description=\"The {label}'s id (a slug).\")\n\n\n\
         def _slug(text: str) -> str:\n    \
             slug = \"\".join(c if c.isascii() and c.isalnum() else \"-\" for c in text.lower())\n    \
             return \"-\".join(part for part in slug.split(\"-\") if part)[:64] or uuid.uuid4().hex[:12]\n\n\n\
         async def _publish(request: Request, event_type: str, {id}: str, changes: dict[str, Any] | None) -> None:\n    \
             \"\"\"Publish `event_type` for a change to MQTT; a broker outage is logged, not fatal.\"\"\"\n    \
             fields = {{\"changes\": changes}} if changes else {{}}\n    \
             event = {event_class}(\n        event_id=uuid.uuid4(),\n        type=event_type,\n        {id}={id},\n        \
             trace_id=trace_id_of(request),\n        at=utcnow(),\n        **fields,\n    )\n    \
             payload = event.model_dump(mode=\"json\", exclude_none=True)\n    \
             try:\n        topic = await request.app.state.publisher.publish({event_name}, payload)\n    \
             except PublishError as exc:\n        log.warning(\"%s not published: %s\", event_type, exc)\n        return\n    \
             await request.app.state.repository.record_event({event_name}, payload, topic)\n",
        plural = r.name,
        item = r.item,
        source = model.source,
        prefix = py::string(&r.path),
        tag = py::string(&r.name),
        event_name = py::string(&r.event),
    );

    if let Some(e) = ep(EndpointKind::List) {
        text.push_str(&format!(
            "\n\n@router.get(\n    \"\",\n    operation_id=\"{op}\",\n    summary={summary},\n    response_model=list[{c}],\n)\n\
             async def {op}(request: Request) -> list[{c}]:\n    \"\"\"{desc}\"\"\"\n    \
             rows = await {table}.list()\n    return [{c}(**row) for row in rows]\n",
            op = e.operation_id,
            summary = py::string(&e.summary),
            desc = e.description,
        ));
    }
    if let Some(e) = ep(EndpointKind::Create) {
        text.push_str(&format!(
            "\n\n@router.post(\n    \"\",\n    operation_id=\"{op}\",\n    summary={summary},\n    status_code=status.HTTP_201_CREATED,\n    \
             response_model={c},\n    dependencies=[Depends(require_token)],\n    responses={resp},\n)\n\
             async def {op}(body: {c}Create, request: Request) -> {c}:\n    \"\"\"{desc}\"\"\"\n    \
             data = body.model_dump(exclude_unset=True)\n    \
             {id} = data.pop(\"id\", None) or {slug_source}\n    \
             now = utcnow()\n    \
             row = {{\"id\": {id}, **data, \"created_at\": now, \"updated_at\": now}}\n    \
             try:\n        row = await {table}.create(row)\n    \
             except Conflict:\n        raise HTTPException(status.HTTP_409_CONFLICT, f\"{label} `{{{id}}}` already exists\") from None\n    \
             changes = body.model_dump(mode=\"json\", exclude_unset=True, exclude={{\"id\"}})\n    \
             await _publish(request, \"{event_type}\", {id}, changes)\n    \
             return {c}(**row)\n",
            op = e.operation_id,
            summary = py::string(&e.summary),
            desc = e.description,
            resp = responses(&[(401, "Missing or wrong bearer token."), (409, "The id is taken.")]),
            event_type = e.events.first().cloned().unwrap_or_default(),
        ));
    }
    if let Some(e) = ep(EndpointKind::Get) {
        text.push_str(&format!(
            "\n\n@router.get(\n    \"/{{{id}}}\",\n    operation_id=\"{op}\",\n    summary={summary},\n    response_model={c},\n    \
             responses={resp},\n)\n\
             async def {op}(request: Request, {id}: str = IdParam) -> {c}:\n    \"\"\"{desc}\"\"\"\n    \
             row = await {table}.get({id})\n    \
             if row is None:\n        raise HTTPException(status.HTTP_404_NOT_FOUND, f\"no {label} `{{{id}}}`\")\n    \
             return {c}(**row)\n",
            op = e.operation_id,
            summary = py::string(&e.summary),
            desc = e.description,
            resp = responses(&[(404, "No such id.")]),
        ));
    }
    if let Some(e) = ep(EndpointKind::Update) {
        text.push_str(&format!(
            "\n\n@router.patch(\n    \"/{{{id}}}\",\n    operation_id=\"{op}\",\n    summary={summary},\n    response_model={c},\n    \
             dependencies=[Depends(require_token)],\n    responses={resp},\n)\n\
             async def {op}(body: {c}Update, request: Request, {id}: str = IdParam) -> {c}:\n    \"\"\"{desc}\"\"\"\n    \
             changes = body.model_dump(exclude_unset=True)\n    \
             row = await {table}.update({id}, {{**changes, \"updated_at\": utcnow()}})\n    \
             if row is None:\n        raise HTTPException(status.HTTP_404_NOT_FOUND, f\"no {label} `{{{id}}}`\")\n    \
             await _publish(request, \"{event_type}\", {id}, body.model_dump(mode=\"json\", exclude_unset=True))\n    \
             return {c}(**row)\n",
            op = e.operation_id,
            summary = py::string(&e.summary),
            desc = e.description,
            resp = responses(&[(401, "Missing or wrong bearer token."), (404, "No such id.")]),
            event_type = e.events.first().cloned().unwrap_or_default(),
        ));
    }
    if let Some(e) = ep(EndpointKind::Delete) {
        text.push_str(&format!(
            "\n\n@router.delete(\n    \"/{{{id}}}\",\n    operation_id=\"{op}\",\n    summary={summary},\n    \
             status_code=status.HTTP_204_NO_CONTENT,\n    response_class=Response,\n    \
             dependencies=[Depends(require_token)],\n    responses={resp},\n)\n\
             async def {op}(request: Request, {id}: str = IdParam) -> Response:\n    \"\"\"{desc}\"\"\"\n    \
             if not await {table}.delete({id}):\n        raise HTTPException(status.HTTP_404_NOT_FOUND, f\"no {label} `{{{id}}}`\")\n    \
             await _publish(request, \"{event_type}\", {id}, None)\n    \
             return Response(status_code=status.HTTP_204_NO_CONTENT)\n",
            op = e.operation_id,
            summary = py::string(&e.summary),
            desc = e.description,
            resp = responses(&[(401, "Missing or wrong bearer token."), (404, "No such id.")]),
            event_type = e.events.first().cloned().unwrap_or_default(),
        ));
    }
    RouterModule {
        module: r.name.clone(),
        text,
        what: format!("`{}` CRUD under {} (item `{}`)", r.name, r.path, r.item),
        api: true,
    }
}

pub(crate) fn publish_router(model: &ServiceModel, tag: &str, module: &str) -> RouterModule {
    let endpoints: Vec<_> = model.endpoints.iter().filter(|e| e.kind == EndpointKind::Publish && e.tag == tag).collect();
    let mut classes: Vec<&EventType> = Vec::new();
    for e in &endpoints {
        for name in &e.events {
            if let Some(ev) = model.event(name)
                && !classes.iter().any(|c| c.name == ev.name)
            {
                classes.push(ev);
            }
        }
    }
    let imports: Vec<&str> = classes.iter().map(|c| c.class.as_str()).collect();
    let items: Vec<&str> = endpoints.iter().map(|e| e.item.as_str()).collect();
    let schemas: Vec<String> = classes.iter().map(|c| format!("    {}: \"{}\",", c.class, c.name)).collect();
    let mut text = format!(
        "\"\"\"`{tag}` endpoints (backlog item `{items}`), generated by fastapi_gen from `{source}`.\"\"\"\n\n\
         from __future__ import annotations\n\n\
         from fastapi import APIRouter, Depends, HTTPException, Request, status\n\n\
         from app.events import PublishError\n\
         from app.models import {imports}, PublishReceipt\n\
         from app.security import require_token\n\n\
         router = APIRouter(tags=[{tag_s}])\n\n\
         #: Each accepted event class and its JSON Schema under `schemas/events/`.\n\
         SCHEMAS = {{\n{schemas}\n}}\n",
        items = items.join("`, `"),
        source = model.source,
        imports = imports.join(", "),
        tag_s = py::string(tag),
        schemas = schemas.join("\n"),
    );
    for e in &endpoints {
        let accepted: Vec<&str> = e.events.iter().filter_map(|n| model.event(n)).map(|ev| ev.class.as_str()).collect();
        let annotation = if accepted.is_empty() { "dict".to_string() } else { accepted.join(" | ") };
        text.push_str(&format!(
            "\n\n@router.post(\n    {path},\n    operation_id=\"{op}\",\n    summary={summary},\n    \
             status_code=status.HTTP_202_ACCEPTED,\n    response_model=PublishReceipt,\n    \
             dependencies=[Depends(require_token)],\n    responses={resp},\n)\n\
             async def {op}(event: {annotation}, request: Request) -> PublishReceipt:\n    \"\"\"{desc}\"\"\"\n    \
             name = SCHEMAS[type(event)]\n    \
             payload = event.model_dump(mode=\"json\", exclude_none=True)\n    \
             try:\n        topic = await request.app.state.publisher.publish(name, payload)\n    \
             except PublishError as exc:\n        \
             raise HTTPException(\n            status.HTTP_503_SERVICE_UNAVAILABLE, f\"the MQTT broker did not accept the event: {{exc}}\"\n        ) from None\n    \
             await request.app.state.repository.record_event(name, payload, topic)\n    \
             return PublishReceipt(event_id=event.event_id, type=event.type, topic=topic)\n",
            path = py::string(&e.path),
            op = e.operation_id,
            summary = py::string(&e.summary),
            desc = e.description,
            resp = responses(&[
                (401, "Missing or wrong bearer token."),
                (503, "The MQTT broker did not accept the event."),
            ]),
        ));
    }
    let what: Vec<String> = endpoints.iter().map(|e| e.label()).collect();
    RouterModule { module: module.to_string(), text, what: format!("{} (publishes to MQTT)", what.join(", ")), api: true }
}

pub(crate) fn metrics_router(model: &ServiceModel) -> RouterModule {
    let mut text = format!(
        "\"\"\"Observability endpoints, generated by fastapi_gen from `{}`.\"\"\"\n\n\
         from __future__ import annotations\n\n\
         from fastapi import APIRouter\nfrom fastapi.responses import PlainTextResponse\n\n\
         from app import telemetry\n\n\
         router = APIRouter(tags=[\"observability\"])\n",
        model.source
    );
    let mut what = Vec::new();
    for e in model.endpoints.iter().filter(|e| e.kind == EndpointKind::Metrics) {
        what.push(e.label());
        text.push_str(&format!(
            "\n\n@router.get({path}, operation_id=\"{op}\", summary={summary}, response_class=PlainTextResponse)\n\
             async def {op}() -> PlainTextResponse:\n    \"\"\"{desc}\"\"\"\n    \
             return PlainTextResponse(telemetry.metrics_text(), media_type=telemetry.CONTENT_TYPE)\n",
            path = py::string(&e.path),
            op = e.operation_id,
            summary = py::string(&e.summary),
            desc = e.description,
        ));
    }
    RouterModule { module: "observability".into(), text, what: what.join(", "), api: false }
}

//! The MCP server of one session: `tools/list` holds what the caller may
//! call (plugins their role may use, pipelines their role may run),
//! `tools/call` runs one through [`super::call`] or [`super::pipelines`],
//! and a change of the plugins directory becomes
//! `notifications/tools/list_changed`.

use std::borrow::Cow;
use std::sync::Arc;

use rmcp::ErrorData;
use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult, PaginatedRequestParams,
    ServerCapabilities, ServerConfig, ServerNotification, SubscriptionFilter, Tool, ToolAnnotations,
    ToolListChangedNotification,
};
use rmcp::service::{NotificationContext, RequestContext, RoleServer, SubscriptionContext};
use tokio::sync::broadcast;

use super::Gateway;
use super::call::{CallError, call_plugin, error_result};
use super::pipelines::{CallRequest, PipelineTool, call_pipeline};
use crate::policy::Caller;

/// One session's server. On stdio the caller is fixed; on HTTP it is the
/// principal of each request's bearer token ([`super::http`]).
#[derive(Clone)]
pub struct Handler {
    gateway: Arc<Gateway>,
    caller: Option<Caller>,
}

impl Handler {
    pub fn new(gateway: Arc<Gateway>, caller: Option<Caller>) -> Self {
        Handler { gateway, caller }
    }

    fn caller(&self, extensions: &rmcp::model::Extensions) -> Result<Caller, ErrorData> {
        if let Some(caller) = &self.caller {
            return Ok(caller.clone());
        }
        extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Caller>())
            .cloned()
            .ok_or_else(|| ErrorData::invalid_request("no authenticated caller", None))
    }
}

/// What a `tools/call` names.
enum Target {
    Plugin(Arc<super::registry::Entry>),
    Pipeline(Arc<PipelineTool>),
}

/// Whether `caller` may call plugin `tool` at all: under a policy, the
/// caller needs a role, and the plugin's `roles` must list it.
fn may_call_plugin(gateway: &Gateway, caller: &Caller, tool: &str) -> bool {
    match gateway.policy.as_deref() {
        None => true,
        Some(policy) => policy.rank(&caller.role).is_some() && policy.may_call(tool, &caller.role),
    }
}

/// Wait for the next change of the plugin list; `false` once none can come.
/// A receiver that fell behind has missed changes: that is a change too.
async fn next_change(changes: &mut broadcast::Receiver<()>) -> bool {
    match changes.recv().await {
        Ok(()) | Err(broadcast::error::RecvError::Lagged(_)) => true,
        Err(broadcast::error::RecvError::Closed) => false,
    }
}

/// The tools `caller` sees.
pub fn tools_for(gateway: &Gateway, caller: &Caller) -> Vec<Tool> {
    let mut tools: Vec<Tool> = gateway
        .registry
        .entries()
        .into_iter()
        .filter(|e| may_call_plugin(gateway, caller, &e.plugin.name))
        .map(|e| {
            let mut tool = Tool::new(e.plugin.name.clone(), e.info.description.clone(), Arc::clone(&e.input_schema))
                .with_annotations(annotations(gateway, caller, &e.plugin.name));
            if let Some(schema) = &e.output_schema {
                tool = tool.with_raw_output_schema(Arc::clone(schema));
            }
            tool
        })
        .collect();
    tools.extend(gateway.pipelines.0.iter().filter(|p| p.allows(caller)).map(|p| {
        Tool::new(p.name.clone(), p.description(), Arc::new(p.input_schema()))
            .with_raw_output_schema(Arc::new(PipelineTool::output_schema()))
            .with_annotations(ToolAnnotations::with_title(p.pipeline.file.clone()).read_only(false).destructive(false))
    }));
    tools
}

/// The hints that are true of a plugin for this caller: it reaches the
/// world only through grants it gets (network, programs, environment), and
/// its writes are merged without overwriting under `--add-only`.
fn annotations(gateway: &Gateway, caller: &Caller, tool: &str) -> ToolAnnotations {
    let grants = crate::policy::call_limits(gateway.policy.as_deref(), tool, &caller.role, Default::default())
        .map(|(_, g)| g)
        .unwrap_or_default();
    let open_world = grants.http.is_some() || grants.exec.is_some();
    ToolAnnotations::from_raw(Some(tool.to_string()), None, Some(!gateway.options.add_only), None, Some(open_world))
}

impl ServerHandler for Handler {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder().enable_tools().enable_tool_list_changed().build();
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new("taylordash", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "TaylorDash: each tool is a sandboxed WebAssembly plugin (quotas, deny-by-default capabilities) \
                 or a pipeline. Tools read the workspace and write files that are merged into the output directory.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        cx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let caller = self.caller(&cx.extensions)?;
        Ok(ListToolsResult::with_all_items(tools_for(&self.gateway, &caller)))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = self.caller(&cx.extensions)?;
        let gw = &self.gateway;
        let name = request.name.to_string();
        // One lookup decides both what is checked and what runs (a plugin
        // wins over a pipeline of the same name, as in `tools/list`).
        let target = match (gw.registry.get(&name), gw.pipelines.get(&name)) {
            (Some(entry), _) => Target::Plugin(entry),
            (None, Some(tool)) => Target::Pipeline(tool),
            (None, None) => return Err(ErrorData::invalid_params(format!("unknown tool `{name}`"), None)),
        };
        let subject = caller.subject(name.clone());
        let allowed = match &target {
            Target::Plugin(_) => may_call_plugin(gw, &caller, &name),
            Target::Pipeline(p) => p.allows(&caller),
        };
        if !allowed {
            let why = format!(
                "denied: `{}` (role `{}`) may not call `{name}`",
                caller.principal,
                if caller.role.is_empty() { "none" } else { caller.role.as_str() }
            );
            gw.audit.append(&[subject.event("rbac", "deny", why.clone())]);
            return Ok(CallToolResponse::Complete(error_result(why)));
        }
        let _slot = match gw.limits.admit(&caller.principal).await {
            Ok(slot) => slot,
            Err(limited) => {
                gw.audit.append(&[subject.event("mcp:rate", "deny", limited.to_string())]);
                return Ok(CallToolResponse::Complete(error_result(limited.to_string())));
            }
        };
        let arguments = request.arguments.unwrap_or_default();
        let result = match target {
            Target::Plugin(entry) => match call_plugin(gw, entry, &caller, arguments).await {
                Ok(result) => result,
                Err(CallError::InvalidArguments(why)) => return Err(ErrorData::invalid_params(why, None)),
            },
            Target::Pipeline(tool) => {
                let progress = cx.meta.get_progress_token().map(|token| (token, cx.peer.clone()));
                let req = CallRequest { caller, arguments, progress, cancel: cx.ct.clone() };
                let started = std::time::Instant::now();
                let result = match call_pipeline(gw, tool, req).await {
                    Ok(result) => result,
                    Err(why) => error_result(why),
                };
                let failed = result.is_error == Some(true);
                let run = result.structured_content.as_ref().and_then(|s| s["run_id"].as_str()).unwrap_or("no run").to_string();
                let detail = format!("{run}, {} ms", started.elapsed().as_millis());
                gw.audit.append(&[subject.event("mcp:call", if failed { "failed" } else { "ok" }, detail)]);
                result
            }
        };
        Ok(CallToolResponse::Complete(result))
    }

    /// Revisions up to 2025-11-25: forward list changes to this session's
    /// client until it leaves.
    async fn on_initialized(&self, cx: NotificationContext<RoleServer>) {
        let mut changes = self.gateway.registry.subscribe();
        let peer = cx.peer.clone();
        tokio::spawn(async move {
            while next_change(&mut changes).await {
                if peer.notify_tool_list_changed().await.is_err() {
                    break;
                }
            }
        });
    }

    /// 2026-07-28: list changes travel on a `subscriptions/listen` stream.
    fn accepted_subscription_filter(&self, requested: &SubscriptionFilter) -> Option<SubscriptionFilter> {
        let offered = SubscriptionFilter::builder().tools_list_changed().build();
        Some(requested.intersection(&offered))
    }

    async fn listen(&self, cx: SubscriptionContext) -> Result<(), ErrorData> {
        if cx.accepted().tools_list_changed != Some(true) {
            cx.cancelled().await;
            return Ok(());
        }
        let mut changes = self.gateway.registry.subscribe();
        loop {
            tokio::select! {
                _ = cx.cancelled() => return Ok(()),
                more = next_change(&mut changes) => {
                    if !more {
                        return Ok(());
                    }
                    let sent = cx.sink().send(ServerNotification::ToolListChangedNotification(ToolListChangedNotification::default())).await;
                    if sent.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [rmcp::model::ProtocolVersion]> {
        Cow::Borrowed(rmcp::model::ProtocolVersion::KNOWN_VERSIONS)
    }
}

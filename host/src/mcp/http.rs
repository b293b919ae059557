//! Streamable HTTP at `/mcp`: the doors in front of rmcp's service.
//!
//! Every request passes, in order: the path; the `Origin` (a browser page
//! of another site must not reach a local server: DNS rebinding, as the MCP
//! specification requires — 403); the bearer token, which the policy maps
//! to a principal by its sha256 (401 without one, or with one it does not
//! know). Refusals are audited. Behind them rmcp checks `Host`, the body
//! size and the protocol. Connections are bounded in number, and a client
//! that is slow to send its headers is dropped.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use rmcp::transport::StreamableHttpServerConfig;
use rmcp::transport::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_service::Service;

use super::{Gateway, GatewayError, Handler};
use crate::audit::Subject;
use crate::policy::Caller;

/// Where and how to listen.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub addr: SocketAddr,
    /// Browser origins allowed besides the server's own (`http://host:port`).
    pub allowed_origins: Vec<String>,
    /// Connections open at once; more wait to be accepted.
    pub max_connections: usize,
    /// Time a client has to send its request headers.
    pub header_timeout: Duration,
}

impl HttpOptions {
    pub fn new(addr: SocketAddr) -> Self {
        HttpOptions { addr, allowed_origins: Vec::new(), max_connections: 256, header_timeout: Duration::from_secs(10) }
    }
}

type Body = BoxBody<Bytes, Infallible>;
type McpService = StreamableHttpService<Handler, LocalSessionManager>;

/// What each request is checked against.
struct Doors {
    gateway: Arc<Gateway>,
    origins: Vec<String>,
    mcp: McpService,
}

/// Bind `options.addr`, call `ready` with the address bound (port 0 picks
/// one), and serve until the process ends.
pub async fn serve(gateway: Arc<Gateway>, options: HttpOptions, ready: impl FnOnce(SocketAddr)) -> Result<(), GatewayError> {
    let has_tokens = gateway.policy.as_ref().is_some_and(|p| !p.mcp_tokens.is_empty());
    if !has_tokens {
        return Err(GatewayError::Usage(
            "--http needs a policy with `mcp_tokens` (every HTTP request carries a bearer token): \
             run `taylordash policy token NAME` and paste its line into the policy"
                .into(),
        ));
    }
    let listener = TcpListener::bind(options.addr)
        .await
        .map_err(|e| GatewayError::Io(format!("--http {}: {e}", options.addr)))?;
    let local = listener.local_addr().map_err(|e| GatewayError::Io(e.to_string()))?;
    let port = local.port();
    let mut origins = vec![format!("http://{local}"), format!("http://localhost:{port}"), format!("http://127.0.0.1:{port}")];
    origins.extend(options.allowed_origins.iter().map(|o| o.trim_end_matches('/').to_ascii_lowercase()));
    let mut hosts = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    hosts.push(local.ip().to_string());
    let max_request = gateway.limits.limits().max_request;
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_allowed_origins(origins.clone())
        .with_max_request_body_bytes(usize::try_from(max_request).unwrap_or(usize::MAX));
    let handler_gateway = Arc::clone(&gateway);
    let mcp = StreamableHttpService::new(
        move || Ok(Handler::new(Arc::clone(&handler_gateway), None)),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let doors = Arc::new(Doors { gateway, origins, mcp });
    let connections = Arc::new(Semaphore::new(options.max_connections.max(1)));
    ready(local);
    loop {
        let Ok(permit) = Arc::clone(&connections).acquire_owned().await else { break };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Small JSON answers: without this, Nagle and delayed ACKs add 40 ms to each.
        let _ = stream.set_nodelay(true);
        let doors = Arc::clone(&doors);
        let header_timeout = options.header_timeout;
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let doors = Arc::clone(&doors);
                async move { Ok::<_, Infallible>(doors.route(req, peer).await) }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
            drop(permit);
        });
    }
    Ok(())
}

impl Doors {
    async fn route(&self, mut req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
        if req.uri().path() != "/mcp" {
            return plain(StatusCode::NOT_FOUND, "not found: the MCP endpoint is /mcp");
        }
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or_default().trim_end_matches('/').to_ascii_lowercase();
            if !self.origins.contains(&origin) {
                self.refuse("mcp:origin", format!("Origin `{origin}` from {peer} is not allowed"));
                return plain(StatusCode::FORBIDDEN, "forbidden: this Origin may not call the server");
            }
        }
        let caller = match self.authenticate(req.headers()) {
            Ok(caller) => caller,
            Err(why) => {
                self.refuse("mcp:auth", format!("{why} (from {peer})"));
                let mut response = plain(StatusCode::UNAUTHORIZED, &format!("unauthorized: {why}"));
                response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
                return response;
            }
        };
        req.extensions_mut().insert(caller);
        let mut mcp = self.mcp.clone();
        match mcp.call(req).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }

    /// The caller a request's bearer token stands for.
    fn authenticate(&self, headers: &http::HeaderMap) -> Result<Caller, &'static str> {
        let policy = self.gateway.policy.as_deref().ok_or("no policy maps tokens")?;
        let value = headers.get(header::AUTHORIZATION).ok_or("no bearer token")?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or("the Authorization header is not `Bearer <token>`")?;
        let principal = policy.token_principal(token).ok_or("unknown bearer token")?;
        let role = policy.principals.get(principal).cloned().unwrap_or_default();
        Ok(Caller { principal: principal.to_string(), role, actor: None })
    }

    fn refuse(&self, capability: &str, detail: String) {
        tracing::warn!("{detail}");
        self.gateway.audit.append(&[Subject::default().event(capability, "deny", detail)]);
    }
}

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{text}\n"))).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

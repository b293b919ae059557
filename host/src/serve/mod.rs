//! `taylordash serve`: one HTTP server (axum) over a runs directory, its
//! journals and the audit log — the KPI page (`/`, served from the binary:
//! no CDN), its JSON API (`/api/…`), a change stream (`/api/stream`,
//! server-sent events) and Prometheus `/metrics`. Also the bare `/metrics`
//! server of a worker (`taylordash worker --metrics ADDR`).
//!
//! One watcher polls the files' sizes and times (every 500 ms) and measures
//! again only when one changed: every request reads the last [`Look`], so
//! a scrape or a page costs no journal reads, and the page learns of a
//! change within a poll of it.

mod api;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response, sse};
use axum::routing::get;
use tokio::sync::watch;

use crate::audit::AuditLog;
use crate::observe::{self, Look, metrics};

/// How `serve` watches and measures.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The runs' journals (and the runs directory: the DLQ, local files).
    pub journals: crate::store::Journals,
    pub audit: AuditLog,
    /// The KPI window: runs updated within this long.
    pub window: Duration,
    /// How often the files are looked at.
    pub poll: Duration,
}

/// The page, as the binary carries it.
const PAGE: &str = include_str!("page.html");
/// Queue depth samples kept for the starvation detector (one a measure).
const SAMPLES: usize = 60;
/// The longest a look is kept while nothing changes on disk.
const STALE: Duration = Duration::from_secs(5);

struct Shared {
    options: ServeOptions,
    /// The journals as last read (each read again only when it changed).
    snapshots: std::sync::Mutex<crate::store::Snapshots>,
    look: RwLock<Arc<Look>>,
    changes: watch::Sender<u64>,
}

impl Shared {
    fn look(&self) -> Arc<Look> {
        self.look.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Serve the page, API and metrics on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, options: ServeOptions) -> std::io::Result<()> {
    let (changes, _) = watch::channel(0u64);
    let shared = Arc::new(Shared { options, snapshots: Default::default(), look: RwLock::new(Arc::new(empty_look())), changes });
    let first = {
        let shared = shared.clone();
        tokio::task::spawn_blocking(move || measure(&shared, &[])).await.map_err(std::io::Error::other)?
    };
    *shared.look.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(first);
    tokio::spawn(watch_files(shared.clone()));
    let app = Router::new()
        .route("/", get(page))
        .route("/metrics", get(metrics_text))
        .route("/api/overview", get(overview))
        .route("/api/stats", get(stats))
        .route("/api/runs/{id}", get(run))
        .route("/api/audit", get(audit))
        .route("/api/stream", get(stream))
        .with_state(shared);
    axum::serve(listener, app).await
}

/// Serve only `/metrics`, from a worker's live counters.
pub async fn serve_metrics(listener: tokio::net::TcpListener, live: Arc<metrics::Live>) -> std::io::Result<()> {
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let live = live.clone();
            async move { prometheus_text(metrics::encode(live.registry())) }
        }),
    );
    axum::serve(listener, app).await
}

fn measure(shared: &Shared, samples: &[u64]) -> Look {
    let options = &shared.options;
    let now = crate::store::now_ms();
    let since = now.saturating_sub(options.window.as_millis() as i64);
    let scope = observe::Scope { since_ms: since, now_ms: now, run: None, queue_samples: samples };
    let runs = shared.snapshots.lock().unwrap_or_else(|p| p.into_inner()).read(&options.journals);
    observe::look(runs, &options.audit, scope)
}

/// What the server shows before its first measure.
fn empty_look() -> Look {
    let window = observe::kpi::Window { runs: &[], audit: &[], now_ms: 0, since_ms: 0, queue_samples: &[], only_run: None };
    Look { runs: Vec::new(), audit: Vec::new(), stats: observe::kpi::compute(&window) }
}

/// Sizes and modification times of everything a look reads.
fn fingerprint(options: &ServeOptions) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let stat = |p: PathBuf| {
        let meta = std::fs::metadata(&p).ok();
        let (len, modified) = meta.map_or((0, None), |m| (m.len(), m.modified().ok()));
        (p, len, modified)
    };
    let mut files = vec![stat(options.audit.path().to_path_buf()), stat(options.journals.runs_dir().join("dlq.sqlite"))];
    if let Ok(entries) = std::fs::read_dir(options.journals.runs_dir()) {
        for e in entries.filter_map(|e| e.ok()) {
            for name in ["journal.sqlite", "journal.sqlite-wal"] {
                files.push(stat(e.path().join(name)));
            }
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

async fn watch_files(shared: Arc<Shared>) {
    let mut last = Vec::new();
    let mut samples: Vec<u64> = Vec::new();
    let mut version = 0u64;
    let mut measured = std::time::Instant::now();
    loop {
        tokio::time::sleep(shared.options.poll).await;
        let options = shared.options.clone();
        let Ok(print) = tokio::task::spawn_blocking(move || fingerprint(&options)).await else { continue };
        // A running run's clock moves even when its files do not: measure
        // again every few seconds regardless.
        if print == last && measured.elapsed() < STALE {
            continue;
        }
        let seen = samples.clone();
        let measuring = shared.clone();
        let Ok(look) = tokio::task::spawn_blocking(move || measure(&measuring, &seen)).await else { continue };
        last = print;
        measured = std::time::Instant::now();
        samples.push(api::queue_depth(&look));
        if samples.len() > SAMPLES {
            samples.remove(0);
        }
        *shared.look.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(look);
        version += 1;
        let _ = shared.changes.send(version);
    }
}

fn prometheus_text(body: String) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static(metrics::CONTENT_TYPE))], body).into_response()
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            // Everything is the binary's own: no script, style or image from elsewhere.
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:"),
            ),
        ],
        PAGE,
    )
        .into_response()
}

async fn metrics_text(State(shared): State<Arc<Shared>>) -> Response {
    let look = shared.look();
    let dlq = shared.options.journals.runs_dir().join("dlq.sqlite");
    let depth = tokio::task::spawn_blocking(move || api::dlq_depth(&dlq)).await.unwrap_or(0);
    prometheus_text(metrics::encode(&metrics::from_look(&look, depth)))
}

async fn overview(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(api::overview(&shared.look())).into_response()
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(shared.look().stats.clone()).into_response()
}

async fn run(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match api::timeline(&shared.look(), &id) {
        Some(t) => axum::Json(t).into_response(),
        None => (StatusCode::NOT_FOUND, axum::Json(serde_json::json!({ "error": format!("no run `{id}`") }))).into_response(),
    }
}

#[derive(serde::Deserialize)]
struct AuditQuery {
    limit: Option<usize>,
}

async fn audit(State(shared): State<Arc<Shared>>, Query(q): Query<AuditQuery>) -> Response {
    axum::Json(api::refusals(&shared.look(), q.limit.unwrap_or(50).min(1000))).into_response()
}

async fn stream(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let rx = shared.changes.subscribe();
    let events = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.changed().await.ok()?;
        let version = *rx.borrow_and_update();
        let event = sse::Event::default().event("change").data(format!("{{\"version\":{version}}}"));
        Some((Ok::<_, std::convert::Infallible>(event), rx))
    });
    sse::Sse::new(events).keep_alive(sse::KeepAlive::new().interval(Duration::from_secs(15)))
}

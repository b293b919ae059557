//! The fleet's audit trail in the shared journal's PostgreSQL database: one
//! `audit` row per event (its JSON), written beside the local file.
//!
//! One thread owns the connection and does every statement, so callers on
//! an async runtime (the MCP gateway, `serve`) never run the blocking
//! client themselves. A denial or grant waits for its row like it waits for
//! the file's fsync; a routine event does not. A database that cannot be
//! reached is logged loudly; the local file still holds every event.

use std::sync::Mutex;
use std::sync::mpsc::{self, Sender};

use super::AuditEvent;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS audit (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at BIGINT NOT NULL, run_id TEXT NOT NULL, event TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_run ON audit (run_id, id);";

/// The same advisory lock the journal's schema is created under.
const SCHEMA_LOCK: i64 = 0x7461_796c_6f72;

enum Request {
    Append(Vec<AuditEvent>, Option<Sender<()>>),
    Read(Sender<Result<Vec<AuditEvent>, String>>),
}

#[derive(Debug)]
pub(crate) struct SharedTrail {
    requests: Mutex<Sender<Request>>,
}

impl SharedTrail {
    pub fn start(url: &str) -> SharedTrail {
        let (tx, rx) = mpsc::channel::<Request>();
        let url = url.to_string();
        std::thread::Builder::new()
            .name("audit-trail".into())
            .spawn(move || {
                let mut client: Option<postgres::Client> = None;
                for request in rx {
                    let connected = match &mut client {
                        Some(c) => Ok(c),
                        None => connect(&url).map(|c| client.insert(c)),
                    };
                    match request {
                        Request::Append(events, done) => {
                            if let Err(e) = connected.and_then(|c| insert(c, &events)) {
                                tracing::error!(error = %e, "could not write the shared audit trail (the local audit log has the events)");
                                client = None;
                            }
                            if let Some(done) = done {
                                let _ = done.send(());
                            }
                        }
                        Request::Read(reply) => {
                            let rows = connected.and_then(read);
                            if rows.is_err() {
                                client = None;
                            }
                            let _ = reply.send(rows.map_err(|e| format!("the shared audit trail: {e}")));
                        }
                    }
                }
            })
            .map(drop)
            .unwrap_or_else(|e| tracing::error!("cannot start the shared audit trail's thread: {e}"));
        SharedTrail { requests: Mutex::new(tx) }
    }

    fn send(&self, request: Request) -> bool {
        self.requests.lock().unwrap_or_else(|p| p.into_inner()).send(request).is_ok()
    }

    /// Write `events`; with `wait`, return once they are in the database
    /// (or failed to get there, which is logged).
    pub fn append(&self, events: &[AuditEvent], wait: bool) {
        let (done, written) = mpsc::channel();
        if self.send(Request::Append(events.to_vec(), wait.then_some(done))) && wait {
            let _ = written.recv();
        }
    }

    pub fn read(&self) -> Result<Vec<AuditEvent>, String> {
        let (reply, rows) = mpsc::channel();
        if !self.send(Request::Read(reply)) {
            return Err("the shared audit trail's thread is gone".into());
        }
        rows.recv().map_err(|_| "the shared audit trail's thread is gone".to_string())?
    }
}

fn connect(url: &str) -> Result<postgres::Client, postgres::Error> {
    let mut client = postgres::Client::connect(url, postgres::NoTls)?;
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
    tx.batch_execute(SCHEMA)?;
    tx.commit()?;
    Ok(client)
}

fn insert(client: &mut postgres::Client, events: &[AuditEvent]) -> Result<(), postgres::Error> {
    let mut tx = client.transaction()?;
    let stmt = tx.prepare("INSERT INTO audit (at, run_id, event) VALUES ($1, $2, $3)")?;
    for e in events {
        let text = serde_json::to_string(e).unwrap_or_default();
        tx.execute(&stmt, &[&e.at, &e.run_id, &text])?;
    }
    tx.commit()
}

fn read(client: &mut postgres::Client) -> Result<Vec<AuditEvent>, postgres::Error> {
    let rows = client.query("SELECT event FROM audit ORDER BY id", &[])?;
    Ok(rows.iter().filter_map(|r| serde_json::from_str(r.get::<_, &str>(0)).ok()).collect())
}

//! The local worker pool of `taylordash run`, sized by the queue: the
//! seed's `resource_exhaustion: scale_out_agent_pool`. A supervisor thread
//! looks at the queue depth (tasks published and not yet answered) every
//! tick: while it exceeds the workers it starts one more, up to `max`; once
//! workers have stood idle for `idle_after` it stops one, down to `min`.
//! Each change is an event (`scale_out_agent_pool`, `scale_in_agent_pool`)
//! the orchestrator journals ([`Dispatch::take_events`](crate::dispatch::Dispatch::take_events)).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::worker::Worker;
use super::BusError;

#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    /// Workers started at once and kept when idle.
    pub min: usize,
    /// The most workers the pool grows to.
    pub max: usize,
    /// How long workers stand idle before one is stopped.
    pub idle_after: Duration,
    /// How often the queue is looked at.
    pub tick: Duration,
}

impl PoolOptions {
    pub fn fixed(workers: usize) -> Self {
        PoolOptions { min: workers, max: workers, idle_after: Duration::from_secs(10), tick: Duration::from_millis(100) }
    }
}

type Spawn = Box<dyn Fn() -> Result<Worker, BusError> + Send + Sync>;
type Depth = Box<dyn Fn() -> usize + Send + Sync>;

struct Shared {
    workers: Mutex<Vec<Worker>>,
    events: Mutex<Vec<(String, Value)>>,
    stop: AtomicBool,
}

/// The running pool; dropping it stops the supervisor and every worker.
pub struct Pool {
    shared: Arc<Shared>,
    supervisor: Option<JoinHandle<()>>,
}

impl Pool {
    /// Start `opts.min` workers with `spawn`, and a supervisor when the pool may grow.
    pub fn start(opts: PoolOptions, spawn: Spawn, depth: Depth) -> Result<Pool, BusError> {
        let mut workers = Vec::with_capacity(opts.min);
        for _ in 0..opts.min {
            workers.push(spawn()?);
        }
        let shared = Arc::new(Shared { workers: Mutex::new(workers), events: Mutex::new(Vec::new()), stop: AtomicBool::new(false) });
        let supervisor = if opts.max > opts.min {
            let shared = shared.clone();
            Some(std::thread::Builder::new().name("worker-pool".into()).spawn(move || supervise(opts, &shared, &spawn, &depth))?)
        } else {
            None
        };
        Ok(Pool { shared, supervisor })
    }

    /// Workers running now.
    pub fn size(&self) -> usize {
        self.shared.workers.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// The pool's changes since the last call: (event kind, data).
    pub fn take_events(&self) -> Vec<(String, Value)> {
        std::mem::take(&mut *self.shared.events.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

fn supervise(opts: PoolOptions, shared: &Shared, spawn: &Spawn, depth: &Depth) {
    let mut idle_since: Option<Instant> = None;
    while !shared.stop.load(Ordering::SeqCst) {
        std::thread::sleep(opts.tick);
        let queued = depth();
        let n = shared.workers.lock().unwrap_or_else(|p| p.into_inner()).len();
        let change = if queued > n && n < opts.max {
            idle_since = None;
            match spawn() {
                Ok(w) => {
                    shared.workers.lock().unwrap_or_else(|p| p.into_inner()).push(w);
                    Some(("scale_out_agent_pool", n + 1))
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the worker pool could not grow");
                    None
                }
            }
        } else if queued < n && n > opts.min {
            let since = *idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= opts.idle_after {
                idle_since = Some(Instant::now());
                let stopped = shared.workers.lock().unwrap_or_else(|p| p.into_inner()).pop();
                // A stopping worker finishes what it runs: not on this thread.
                if let Some(w) = stopped {
                    let _ = std::thread::Builder::new().name("worker-stop".into()).spawn(move || w.stop());
                }
                Some(("scale_in_agent_pool", n - 1))
            } else {
                None
            }
        } else {
            idle_since = None;
            None
        };
        if let Some((kind, workers)) = change {
            tracing::info!(kind, workers, queue_depth = queued, "worker pool resized");
            shared.events.lock().unwrap_or_else(|p| p.into_inner()).push((
                kind.to_string(),
                json!({ "workers": workers, "queue_depth": queued, "min": opts.min, "max": opts.max }),
            ));
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(s) = self.supervisor.take() {
            let _ = s.join();
        }
        self.shared.workers.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

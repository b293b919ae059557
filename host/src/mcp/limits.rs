//! What one principal may ask of the gateway at once and per minute
//! (`mcp:` in policy.yaml), so that a slow or hostile client cannot take the
//! host from the others: calls past the concurrency limit wait their turn,
//! calls past the rate are refused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::policy::McpLimits;

/// One principal's budget.
struct Budget {
    running: Arc<Semaphore>,
    /// Start times of the calls of the last minute.
    recent: Vec<Instant>,
}

/// The budgets of every principal seen so far.
pub struct Limits {
    limits: McpLimits,
    budgets: Mutex<HashMap<String, Budget>>,
}

/// Why a call may not start now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rate limit: `{principal}` has started {limit} calls in the last minute (policy `mcp.calls_per_minute`); try again in {retry_in_s} s")]
pub struct RateLimited {
    pub principal: String,
    pub limit: u32,
    pub retry_in_s: u64,
}

const WINDOW: Duration = Duration::from_secs(60);

impl Limits {
    pub fn new(limits: McpLimits) -> Self {
        Limits { limits, budgets: Mutex::new(HashMap::new()) }
    }

    pub fn limits(&self) -> McpLimits {
        self.limits
    }

    /// Count a call against `principal`'s rate, then wait for one of its
    /// concurrency slots; the slot is freed when the permit drops.
    pub async fn admit(&self, principal: &str) -> Result<OwnedSemaphorePermit, RateLimited> {
        let running = {
            let mut budgets = self.budgets.lock().unwrap_or_else(|p| p.into_inner());
            let budget = budgets.entry(principal.to_string()).or_insert_with(|| Budget {
                running: Arc::new(Semaphore::new(self.limits.concurrency.max(1))),
                recent: Vec::new(),
            });
            let now = Instant::now();
            budget.recent.retain(|t| now.duration_since(*t) < WINDOW);
            if budget.recent.len() >= self.limits.calls_per_minute as usize {
                let oldest = budget.recent.first().copied().unwrap_or(now);
                let retry_in_s = WINDOW.saturating_sub(now.duration_since(oldest)).as_secs().max(1);
                return Err(RateLimited { principal: principal.to_string(), limit: self.limits.calls_per_minute, retry_in_s });
            }
            budget.recent.push(now);
            Arc::clone(&budget.running)
        };
        // The semaphore is never closed, so acquiring fails only if it were.
        running.acquire_owned().await.map_err(|_| RateLimited {
            principal: principal.to_string(),
            limit: self.limits.calls_per_minute,
            retry_in_s: 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(concurrency: usize, calls_per_minute: u32) -> Limits {
        Limits::new(McpLimits { concurrency, calls_per_minute, ..McpLimits::default() })
    }

    #[tokio::test(flavor = "current_thread")]
    async fn calls_past_the_rate_are_refused_per_principal() {
        let l = limits(8, 2);
        let _a = l.admit("alice").await.unwrap();
        let _b = l.admit("alice").await.unwrap();
        let refused = l.admit("alice").await.unwrap_err();
        assert_eq!(refused.principal, "alice");
        assert!(refused.to_string().starts_with("rate limit: `alice` has started 2 calls in the last minute"), "{refused}");
        assert!(l.admit("bob").await.is_ok(), "another principal has its own budget");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn calls_past_the_concurrency_wait_for_a_slot() {
        let l = limits(1, 100);
        let first = l.admit("alice").await.unwrap();
        let waiting = tokio::time::timeout(Duration::from_millis(50), l.admit("alice")).await;
        assert!(waiting.is_err(), "the second call waits while the first runs");
        drop(first);
        assert!(tokio::time::timeout(Duration::from_millis(50), l.admit("alice")).await.is_ok());
    }
}

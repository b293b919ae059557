//! Who drives a run: a lease row (run, owner, expiry on the database's
//! clock) that an orchestrator takes before it drives a run, renews by
//! heartbeat, and gives up when the run ends. Another orchestrator takes a
//! run over only once the lease has expired — or at once when the owner
//! was a process on the same host that no longer exists (a `kill -9` on
//! one machine need not wait out the lease).
//!
//! The writes that start an attempt or commit its merge check the lease in
//! their own transaction ([`Lease::check`]): an orchestrator that stalled
//! past its lease and was replaced stops at its next step instead of
//! driving the run beside its successor.

use std::fmt;
use std::time::Duration;

use super::db::{Db, TxError, p};
use super::StoreError;

/// An orchestrator process, as a lease names it: `host/pid/start/nonce`
/// (`start`: the process's start time in clock ticks since boot, so a
/// reused pid is not mistaken for the owner; `nonce`: two orchestrators in
/// one process are two owners).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    host: String,
    pid: u32,
    started: u64,
    nonce: String,
}

impl Owner {
    /// This process, with a fresh nonce.
    pub fn this_process() -> Owner {
        let pid = std::process::id();
        Owner {
            host: hostname(),
            pid,
            started: process_start(pid).unwrap_or(0),
            nonce: uuid::Uuid::new_v4().simple().to_string()[..8].to_string(),
        }
    }

    fn parse(text: &str) -> Option<Owner> {
        let mut parts = text.rsplitn(4, '/');
        let nonce = parts.next()?.to_string();
        let started = parts.next()?.parse().ok()?;
        let pid = parts.next()?.parse().ok()?;
        let host = parts.next()?.to_string();
        Some(Owner { host, pid, started, nonce })
    }

    /// A process of this host that has exited (its pid is gone, or now
    /// belongs to a process started at another time).
    fn is_gone_from_this_host(&self) -> bool {
        self.host == hostname() && process_start(self.pid) != Some(self.started)
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}/{}", self.host, self.pid, self.started, self.nonce)
    }
}

/// A run's lease, held by this orchestrator.
#[derive(Debug, Clone)]
pub struct Lease {
    owner: Owner,
    ttl: Duration,
}

/// Who holds a lease this orchestrator asked for, and for how much longer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseHolder {
    pub owner: String,
    /// Until the lease expires unless renewed (zero: expired, and it is
    /// being taken over).
    pub expires_in: Duration,
}

impl fmt::Display for LeaseHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, lease for {:.1} s more", self.owner, self.expires_in.as_secs_f64())
    }
}

impl Lease {
    pub fn owner(&self) -> &Owner {
        &self.owner
    }

    /// How long the lease lasts without a renewal.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Renew the lease if it is still this owner's, in `db`'s transaction;
    /// else [`StoreError::LeaseLost`], naming who holds it now.
    pub(crate) fn check(&self, db: &mut Db, run: &str) -> Result<(), TxError> {
        let changed = db.exec(
            "UPDATE leases SET expires_at = {now} + ?3 WHERE run_id = ?1 AND owner = ?2",
            p![run, &self.owner.to_string(), ttl_ms(self.ttl)],
        )?;
        if changed == 1 {
            return Ok(());
        }
        let holder = holder(db, run)?.map_or_else(|| "nobody".to_string(), |h| h.to_string());
        Err(TxError::Store(StoreError::LeaseLost { run: run.to_string(), holder }))
    }
}

fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2)
}

/// Take `run`'s lease for `owner` when it is free, expired, already
/// `owner`'s, or held by a process of this host that is gone.
pub(crate) fn acquire(db: &mut Db, run: &str, owner: &Owner, ttl: Duration) -> Result<Result<Lease, LeaseHolder>, TxError> {
    let me = owner.to_string();
    let lease = Lease { owner: owner.clone(), ttl };
    let taken = db.exec(
        "INSERT INTO leases (run_id, owner, expires_at) VALUES (?1, ?2, {now} + ?3)
         ON CONFLICT (run_id) DO UPDATE SET owner = ?2, expires_at = {now} + ?3
         WHERE leases.owner = ?2 OR leases.expires_at < {now}",
        p![run, &me, ttl_ms(ttl)],
    )?;
    if taken == 1 {
        return Ok(Ok(lease));
    }
    let Some(held) = holder(db, run)? else { return Ok(Ok(lease)) };
    if Owner::parse(&held.owner).is_some_and(|o| o.is_gone_from_this_host()) {
        let stolen = db.exec(
            "UPDATE leases SET owner = ?2, expires_at = {now} + ?3 WHERE run_id = ?1 AND owner = ?4",
            p![run, &me, ttl_ms(ttl), &held.owner],
        )?;
        if stolen == 1 {
            tracing::info!(run, previous = %held.owner, "took over the lease of an orchestrator that is gone from this host");
            return Ok(Ok(lease));
        }
    }
    Ok(Err(held))
}

fn holder(db: &mut Db, run: &str) -> Result<Option<LeaseHolder>, TxError> {
    let row = db.row("SELECT owner, expires_at - {now} FROM leases WHERE run_id = ?1", p![run])?;
    let Some(row) = row else { return Ok(None) };
    let owner = row.text(0).map_err(TxError::Store)?;
    let left = row.int(1).map_err(TxError::Store)?;
    Ok(Some(LeaseHolder { owner, expires_in: Duration::from_millis(left.max(0) as u64) }))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// The start time of process `pid` (field 22 of `/proc/<pid>/stat`), if it exists.
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count after the last `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_reads_back_and_this_process_is_alive() {
        let me = Owner::this_process();
        assert_eq!(Owner::parse(&me.to_string()), Some(me.clone()));
        assert!(!me.is_gone_from_this_host());
        let gone = Owner { pid: u32::MAX - 1, ..me.clone() };
        assert!(gone.is_gone_from_this_host());
        let elsewhere = Owner { host: "another-host".into(), pid: u32::MAX - 1, ..me };
        assert!(!elsewhere.is_gone_from_this_host(), "a process of another host is never presumed dead");
    }
}

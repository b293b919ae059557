//! Opening a SQLite file several processes share — a run's journal (the
//! orchestrator writes it while `serve` and `stats` read it), the DLQ (every
//! orchestrator of a runs directory, `serve`, `taylordash dlq`): WAL, full
//! sync, and openers that wait for each other's locks instead of failing.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// How long an opener waits for another connection's lock.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Open (or create) `path` in WAL mode with `synchronous = FULL`.
pub fn open_shared(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    use_wal(&conn)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

/// Switch the file to WAL (a no-op once it is). SQLite answers a switch
/// that meets another opener's lock with "database is locked" at once,
/// without calling the busy handler, so the wait is done here.
fn use_wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            done => return done,
        }
    }
}

/// Run `open` on `n` threads released at the same instant; their results
/// in order. The tests of every shared file race their openers with it.
#[cfg(test)]
pub(crate) fn at_once<T: Send>(n: usize, open: impl Fn() -> T + Sync) -> Vec<T> {
    let barrier = std::sync::Barrier::new(n);
    std::thread::scope(|s| {
        let openers: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    open()
                })
            })
            .collect();
        openers.into_iter().map(|o| o.join().expect("an opener panicked")).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without the wait in `use_wal`, one opener in a few rounds fails
    /// with "database is locked".
    #[test]
    fn openers_of_a_new_file_at_once_all_get_it_in_wal_mode() {
        for round in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("shared.sqlite");
            let modes = at_once(4, || {
                open_shared(&path)?.query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0))
            });
            for mode in modes {
                assert_eq!(mode.unwrap_or_else(|e| panic!("round {round}: {e:?}")), "wal");
            }
        }
    }
}

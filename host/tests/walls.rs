//! The walls a hostile guest leans on that are about volume, not reach: the
//! disk it may fill through `/out` and the denials it may provoke. Each
//! attack is one behaviour of the `adversary` test plugin; each test asserts
//! the exact breach, that nothing was merged, and the cost to the host.

mod common;

use std::time::{Duration, Instant};

use common::{load, sandbox, test_plugin};
use taylordash::sandbox::{Call, Plugin, Quotas, Sandbox, SandboxError};

struct Rig {
    sandbox: Sandbox,
    adversary: Plugin,
    _cache: tempfile::TempDir,
}

fn rig() -> Rig {
    let (sandbox, cache) = sandbox();
    let adversary = load(&sandbox, &test_plugin("adversary"));
    Rig { sandbox, adversary, _cache: cache }
}

impl Rig {
    /// Run `input` with `quotas`, merging into a fresh destination.
    fn run(&self, input: serde_json::Value, quotas: Quotas) -> (Result<serde_json::Value, SandboxError>, tempfile::TempDir, Duration) {
        let dest = tempfile::tempdir().unwrap();
        let input = input.to_string();
        let call = Call { input: &input, quotas, ..Call::default() };
        let started = Instant::now();
        let result = self
            .sandbox
            .run_task(&self.adversary, &call, dest.path(), false)
            .map(|t| serde_json::from_str(&t.call.output).unwrap());
        (result, dest, started.elapsed())
    }
}

fn entries(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

fn quotas() -> Quotas {
    Quotas { out_bytes: 8 << 20, out_files: 100, timeout: Duration::from_secs(20), ..Quotas::default() }
}

fn assert_breach(result: Result<serde_json::Value, SandboxError>, message: &str) {
    let e = result.expect_err("the attack must be stopped");
    assert_eq!(e.to_string(), message);
    assert_eq!(e.exit_code(), 4);
}

#[test]
fn a_big_file_stops_at_out_bytes_and_nothing_is_merged() {
    let r = rig();
    // 1 GiB asked; the write that crosses 8 MiB traps the call.
    let (result, dest, took) = r.run(serde_json::json!({ "attack": "out_big", "n": 1u64 << 30 }), quotas());
    assert_breach(result, "plugin `adversary`: quota exceeded: out_bytes (limit 8388608)");
    assert_eq!(entries(dest.path()), 0);
    assert!(took < Duration::from_secs(10), "stopped while writing, not after: {took:?}");
    // Under the quota the same attack succeeds and merges.
    let (ok, dest, _) = r.run(serde_json::json!({ "attack": "out_big", "n": 4u64 << 20 }), quotas());
    assert_eq!(ok.unwrap()["written"], 4u64 << 20);
    assert_eq!(std::fs::metadata(dest.path().join("big")).unwrap().len(), 4 << 20);
}

#[test]
fn many_files_stop_at_out_files() {
    let r = rig();
    let (result, dest, _) = r.run(serde_json::json!({ "attack": "out_many", "n": 100_000 }), quotas());
    assert_breach(result, "plugin `adversary`: quota exceeded: out_files (limit 100)");
    assert_eq!(entries(dest.path()), 0);
    let (ok, dest, _) = r.run(serde_json::json!({ "attack": "out_many", "n": 100 }), quotas());
    assert_eq!(ok.unwrap()["files"], 100);
    assert_eq!(entries(dest.path()), 100);
}

#[test]
fn a_sparse_file_counts_at_its_length() {
    let r = rig();
    for attack in ["out_sparse", "out_seek"] {
        // 4 GiB of holes: a few blocks on disk, 4 GiB once merged.
        let (result, dest, _) = r.run(serde_json::json!({ "attack": attack, "n": 4u64 << 30 }), quotas());
        assert_breach(result, "plugin `adversary`: quota exceeded: out_bytes (limit 8388608)");
        assert_eq!(entries(dest.path()), 0, "{attack}");
    }
    let (ok, dest, _) = r.run(serde_json::json!({ "attack": "out_sparse", "n": 1u64 << 20 }), quotas());
    assert_eq!(ok.unwrap()["length"], 1u64 << 20);
    assert_eq!(std::fs::metadata(dest.path().join("sparse")).unwrap().len(), 1 << 20);
}

#[test]
fn a_denial_flood_spends_the_host_call_quota_and_is_audited_in_summary() {
    let r = rig();
    let listener = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let q = Quotas { host_calls: 1_000, ..quotas() };
    // Before: 200,000 denials in 3 s, each logged and audited. Now the
    // watchdog ends the call once denials pass the host-call quota.
    let (result, _, took) = r.run(serde_json::json!({ "attack": "socket_flood", "n": 10_000_000, "port": port }), q);
    assert_breach(result, "plugin `adversary`: quota exceeded: host-calls (limit 1000)");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(listener.recv(&mut [0u8; 16]).is_err(), "nothing may arrive");

    // A flood under the quota succeeds; its denials are listed up to ten, then summarised.
    let input = serde_json::json!({ "attack": "socket_flood", "n": 500, "port": port }).to_string();
    let call = Call { input: &input, quotas: q, ..Call::default() };
    let out = r.sandbox.call(&r.adversary, &call, None).expect("the tool copes with refusals");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out.output).unwrap()["refused"], 500);
    assert_eq!(out.denials.len(), 11, "{:?}", out.denials);
    assert!(out.denials[..10].iter().all(|d| d.capability == "network"));
    assert_eq!(out.denials[10].detail, "490 more `network` denials in this call, not listed one by one");
}

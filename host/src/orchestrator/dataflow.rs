//! Dataflow between agents: which artifact a task produced, and when a task
//! of a parallel stage must wait for the stage's other agents.
//!
//! **Artifacts.** A name a pipeline declares (a stage's `outputs`, a
//! combination's `outputs` and `handoff_artifacts`) is produced by a task
//! whose JSON output has a top-level key of that name, or that merged a file
//! whose name (with or without extension) or one of whose directories is that
//! name; `-` and `_` are the same letter (`realm_export` is
//! `keycloak/realm-export.json`).
//!
//! **Joins.** The agents of a parallel stage build at once, so a tool that
//! runs programs over the workspace as a whole (the suite through
//! `bash_runner`) would see the others half-written. Such a tool waits at
//! the stage's [`Join`] until every other agent has finished its building
//! tools (or is itself waiting to check); then the checks run, each in its
//! agent's order. The rule is the tool's, not the pipeline's: the seed's
//! combinations are verbatim and declare no edges.

use std::path::Path;
use std::sync::{Condvar, Mutex};

use serde_json::Value;

/// Tools that run programs over the workspace as a whole (through the
/// `exec` capability): in a parallel stage they start after the join.
pub const WORKSPACE_RUNNERS: [&str; 1] = ["bash_runner"];

/// Whether `tool` checks the whole workspace and so waits for its peers.
pub fn waits_for_peers(tool: &str) -> bool {
    WORKSPACE_RUNNERS.contains(&tool)
}

/// The value artifact `name` gets from a task's `output` and merged
/// `files`: the JSON key's value, else the first matching file's path (for a
/// directory match, the directory).
pub fn produced(name: &str, output: &Value, files: &[String]) -> Option<Value> {
    if let Some(v) = output.get(name) {
        return Some(v.clone());
    }
    let wanted = normalise(name);
    for file in files {
        let path = Path::new(file.as_str());
        let stem = path.file_stem().map(|s| normalise(&s.to_string_lossy()));
        let whole = path.file_name().map(|s| normalise(&s.to_string_lossy()));
        if stem.as_deref() == Some(wanted.as_str()) || whole.as_deref() == Some(wanted.as_str()) {
            return Some(Value::String(file.clone()));
        }
        let mut dir = std::path::PathBuf::new();
        for part in path.parent().into_iter().flat_map(|p| p.components()) {
            dir.push(part);
            if normalise(&part.as_os_str().to_string_lossy()) == wanted {
                return Some(Value::String(dir.to_string_lossy().into_owned()));
            }
        }
    }
    None
}

/// Whether an artifact counts as there for `if:`: an empty list, map or
/// string (a tool saying "none") does not.
pub fn non_empty(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn normalise(name: &str) -> String {
    name.replace('-', "_")
}

/// The barrier of one parallel stage: how many agents are still building.
pub struct Join {
    state: Mutex<JoinState>,
    changed: Condvar,
}

struct JoinState {
    building: usize,
    /// An agent stopped: the stage fails, the checks are not worth running.
    stopped: bool,
}

/// How a wait at the join ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joined {
    /// Every other agent has built: check.
    AllBuilt,
    /// Another agent stopped the stage: skip the checks.
    PeerStopped,
}

impl Join {
    pub fn new(agents: usize) -> Self {
        Join { state: Mutex::new(JoinState { building: agents, stopped: false }), changed: Condvar::new() }
    }

    /// This agent has finished building (it is done, or about to check).
    /// Call it once per agent.
    pub fn built(&self, stopped: bool) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.building = s.building.saturating_sub(1);
        s.stopped |= stopped;
        self.changed.notify_all();
    }

    /// Wait until no agent is building, or one stopped.
    pub fn wait(&self) -> Joined {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if s.stopped {
                return Joined::PeerStopped;
            }
            if s.building == 0 {
                return Joined::AllBuilt;
            }
            s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn files(f: &[&str]) -> Vec<String> {
        f.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn artifacts_come_from_keys_file_names_and_directories() {
        let out = json!({ "event_schemas": ["schemas/events/a.json"] });
        assert_eq!(produced("event_schemas", &out, &[]), Some(json!(["schemas/events/a.json"])));
        let f = files(&["app/main.py", "keycloak/realm-export.json", "health_scripts/check_api.sh", "docker-compose.yml"]);
        assert_eq!(produced("realm_export", &Value::Null, &f), Some(json!("keycloak/realm-export.json")));
        assert_eq!(produced("health_scripts", &Value::Null, &f), Some(json!("health_scripts")));
        assert_eq!(produced("docker-compose.yml", &Value::Null, &f), Some(json!("docker-compose.yml")));
        assert_eq!(produced("app", &Value::Null, &f), Some(json!("app")));
        assert_eq!(produced("dashboards", &Value::Null, &f), None);
        // A directory matches as a whole name, never as a prefix.
        assert_eq!(produced("health", &Value::Null, &f), None);
    }

    #[test]
    fn a_checker_waits_until_its_peers_have_built() {
        let join = Arc::new(Join::new(2));
        let waiter = {
            let join = join.clone();
            std::thread::spawn(move || {
                join.built(false);
                join.wait()
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!waiter.is_finished(), "the checker ran while a peer was building");
        join.built(false);
        assert_eq!(waiter.join().unwrap(), Joined::AllBuilt);
    }

    #[test]
    fn a_stopped_peer_releases_the_checkers() {
        let join = Join::new(3);
        join.built(false);
        join.built(true);
        assert_eq!(join.wait(), Joined::PeerStopped);
        assert!(waits_for_peers("bash_runner") && !waits_for_peers("pytest_asyncio"));
    }
}

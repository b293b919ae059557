//! The topic names: the seed's, under an optional prefix (so several
//! deployments, or tests, can share one broker without seeing each other).
//!
//! | topic | what travels on it |
//! |---|---|
//! | `<prefix>orchestrator/tasks/assign` | task envelopes; workers take them through `$share/<group>/…` ([`Topics::worker_group`]) |
//! | `<prefix>orchestrator/tasks/query` | an attempt a resumed orchestrator sends again: every worker hears it, and the one that holds it answers (it runs nothing new) |
//! | `<prefix>agents/status/complete/<dispatcher>` | results, as the v5 response topic of each task; claims (a worker took a task) |
//! | `<prefix>agents/status/gone/<worker>` | a worker's MQTT will: its connection died, or it stopped with tasks it had claimed |
//! | `<prefix>validation/gates/status` | a gate's outcome, as the orchestrator receives it |
//! | `<prefix>docs/update/trigger` | `docs/update/trigger` events a tool emitted |
//! | `<prefix>orchestrator/dlq` | tasks that exhausted their deliveries |
//! | `<prefix>blobs/get/<node>` | requests for a chunk of a blob the node holds (workers without the shared filesystem) |
//! | `<prefix>blobs/data/<node>` | the chunks answering a node's requests |

use super::BusError;

pub const ASSIGN: &str = "orchestrator/tasks/assign";
pub const QUERY: &str = "orchestrator/tasks/query";
pub const COMPLETE: &str = "agents/status/complete";
pub const GONE: &str = "agents/status/gone";
pub const GATES_STATUS: &str = "validation/gates/status";
pub const DOCS_TRIGGER: &str = "docs/update/trigger";
pub const DLQ: &str = "orchestrator/dlq";
pub const BLOBS_GET: &str = "blobs/get";
pub const BLOBS_DATA: &str = "blobs/data";
/// The shared-subscription group workers join.
pub const WORKERS_GROUP: &str = "workers";

/// Topic names under one prefix.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Topics {
    /// Empty, or ends with `/`.
    prefix: String,
}

fn check_level_chars(what: &'static str, value: &str) -> Result<(), BusError> {
    let bad = |reason: &str| Err(BusError::BadTopic { what, value: value.to_string(), reason: reason.to_string() });
    if value.contains(['+', '#']) {
        return bad("wildcards `+` and `#` are not allowed");
    }
    if value.contains('\0') {
        return bad("NUL is not allowed");
    }
    if value.starts_with('$') {
        return bad("names starting with `$` are reserved by brokers");
    }
    if value.len() > 1024 {
        return bad("longer than 1024 bytes");
    }
    Ok(())
}

/// One topic level naming a client: letters, digits, `-` and `_`.
fn check_node(what: &'static str, id: &str) -> Result<(), BusError> {
    if id.is_empty() || id.len() > 128 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(BusError::BadTopic { what, value: id.into(), reason: "use 1 to 128 letters, digits, `-` and `_`".into() });
    }
    Ok(())
}

impl Topics {
    /// `prefix` may be empty; a trailing `/` is added when missing.
    pub fn new(prefix: &str) -> Result<Self, BusError> {
        check_level_chars("prefix", prefix)?;
        let mut prefix = prefix.trim_start_matches('/').to_string();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Ok(Topics { prefix })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn under(&self, t: &str) -> String {
        format!("{}{t}", self.prefix)
    }

    pub fn assign(&self) -> String {
        self.under(ASSIGN)
    }

    /// The workers' shared-subscription group: `workers`, or with a prefix
    /// `workers-<prefix>` (`/` and other characters outside `[A-Za-z0-9_-]`
    /// become `_`). rumqttd keys shared groups by name alone, across topics,
    /// so two prefixes' workers on one embedded broker need distinct names.
    pub fn worker_group(&self) -> String {
        let p = self.prefix.trim_end_matches('/');
        if p.is_empty() {
            return WORKERS_GROUP.to_string();
        }
        let clean: String = p.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
        format!("{WORKERS_GROUP}-{clean}")
    }

    /// `$share/<group>/<prefix>orchestrator/tasks/assign`: N workers share the load.
    pub fn assign_shared(&self, group: &str) -> Result<String, BusError> {
        check_level_chars("group", group)?;
        if group.is_empty() || group.contains('/') {
            return Err(BusError::BadTopic { what: "group", value: group.into(), reason: "must be one non-empty level".into() });
        }
        Ok(format!("$share/{group}/{}", self.assign()))
    }

    pub fn query(&self) -> String {
        self.under(QUERY)
    }

    pub fn complete(&self) -> String {
        self.under(COMPLETE)
    }

    /// Where `worker`'s will goes.
    pub fn gone(&self, worker: &str) -> Result<String, BusError> {
        check_node("worker id", worker)?;
        Ok(format!("{}/{worker}", self.under(GONE)))
    }

    /// Every worker's will (a dispatcher subscribes to it).
    pub fn gone_all(&self) -> String {
        format!("{}/+", self.under(GONE))
    }

    /// The worker a will on `topic` names, if it is one.
    pub fn gone_worker<'t>(&self, topic: &'t str) -> Option<&'t str> {
        topic.strip_prefix(&self.prefix)?.strip_prefix(GONE)?.strip_prefix('/').filter(|w| !w.contains('/'))
    }

    /// One dispatcher's response topic, under `agents/status/complete`.
    pub fn results_for(&self, dispatcher: &str) -> Result<String, BusError> {
        check_node("dispatcher id", dispatcher)?;
        Ok(format!("{}/{dispatcher}", self.complete()))
    }

    /// Where requests for the blobs `node` holds go.
    pub fn blob_requests(&self, node: &str) -> Result<String, BusError> {
        check_node("blob node", node)?;
        Ok(format!("{}/{node}", self.under(BLOBS_GET)))
    }

    /// Where the chunks answering `node`'s requests go.
    pub fn blob_replies(&self, node: &str) -> Result<String, BusError> {
        check_node("blob node", node)?;
        Ok(format!("{}/{node}", self.under(BLOBS_DATA)))
    }

    pub fn gates_status(&self) -> String {
        self.under(GATES_STATUS)
    }

    pub fn docs_trigger(&self) -> String {
        self.under(DOCS_TRIGGER)
    }

    pub fn dlq(&self) -> String {
        self.under(DLQ)
    }

    /// Everything under the prefix (for monitors and tests).
    pub fn all(&self) -> String {
        self.under("#")
    }

    /// A tool's event topic, if it is one the bus republishes (the seed's
    /// status topics); anything else stays in the task's result only.
    pub fn for_event(&self, event_topic: &str) -> Option<String> {
        match event_topic.trim_matches('/') {
            GATES_STATUS => Some(self.gates_status()),
            DOCS_TRIGGER => Some(self.docs_trigger()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_normalized_and_checked() {
        assert_eq!(Topics::new("").unwrap().assign(), "orchestrator/tasks/assign");
        assert_eq!(Topics::new("td/t1").unwrap().assign(), "td/t1/orchestrator/tasks/assign");
        assert_eq!(Topics::new("td/t1/").unwrap().dlq(), "td/t1/orchestrator/dlq");
        assert_eq!(
            Topics::new("x").unwrap().assign_shared("workers").unwrap(),
            "$share/workers/x/orchestrator/tasks/assign"
        );
        assert!(Topics::new("a/+").is_err());
        assert!(Topics::new("$SYS").is_err());
        assert!(Topics::new("").unwrap().results_for("a/b").is_err());
        assert_eq!(Topics::new("td").unwrap().blob_requests("w-1").unwrap(), "td/blobs/get/w-1");
        assert_eq!(Topics::new("").unwrap().blob_replies("o_1").unwrap(), "blobs/data/o_1");
        assert!(Topics::new("").unwrap().blob_requests("+").is_err());
        assert_eq!(Topics::new("p").unwrap().for_event("docs/update/trigger").as_deref(), Some("p/docs/update/trigger"));
        assert_eq!(Topics::new("p").unwrap().for_event("anything/else"), None);
        assert_eq!(Topics::new("").unwrap().worker_group(), "workers");
        assert_eq!(Topics::new("td/t 1").unwrap().worker_group(), "workers-td_t_1");
    }
}

//! The seed's `mcp_orchestration` block: the MCP servers a pipeline calls at
//! its integration points, each with a role and a performance target.
//!
//! ```yaml
//! mcp_orchestration:
//!   context7:
//!     role: "knowledge_provider"
//!     integration_points: ["pre_implementation", "code_review"]
//!     performance_target: "< 5s response"
//! ```
//!
//! A stage names the points it opens with (`integration_points:`); the
//! orchestrator calls every server that serves one of them before the stage's
//! agents run. Where a server is and what it is asked at each point is the
//! operator's (`mcp_servers.json` in the workspace), not the pipeline's.

use std::time::Duration;

use crate::units::parse_duration;
use crate::yaml::reader::Reader;
use crate::yaml::{Node, Named, Pos, Value};

const SERVER_KEYS: [&str; 3] = ["role", "integration_points", "performance_target"];

/// One server of `mcp_orchestration`.
#[derive(Debug, Clone, PartialEq)]
pub struct McpServer {
    pub name: String,
    pub pos: Pos,
    pub role: Option<String>,
    /// The points at which it is called.
    pub points: Vec<Named>,
    /// Each answer should come within this (`< 5s response`); a slower one is
    /// an `mcp_target_breach` event, not a failure.
    pub target: Option<Duration>,
}

impl McpServer {
    pub fn serves(&self, point: &str) -> bool {
        self.points.iter().any(|p| p.name == point)
    }
}

/// Read `mcp_orchestration:`; problems go to the reader's diagnostics.
pub fn read(r: &mut Reader<'_>, node: &Node) -> Vec<McpServer> {
    let mut servers = Vec::new();
    for (name_node, name, body) in r.mapping(node, "mcp_orchestration") {
        let mut server = McpServer { name: name.to_string(), pos: name_node.pos, role: None, points: Vec::new(), target: None };
        let what = format!("mcp_orchestration.{name}");
        for (key, v) in r.fields(body, &what, &SERVER_KEYS) {
            let field = format!("{what}.{key}");
            match key {
                "role" => server.role = r.string(v, &field),
                "integration_points" => server.points = r.names(v, &field),
                "performance_target" => server.target = target(r, v, &field),
                _ => {}
            }
        }
        if server.points.is_empty() {
            r.error(name_node.pos, format!("`{what}` has no `integration_points`: name where the orchestrator calls it"));
        }
        servers.push(server);
    }
    servers
}

/// `< 5s response`: a bound, a duration, and optionally what is measured.
fn target(r: &mut Reader<'_>, node: &Node, field: &str) -> Option<Duration> {
    let text = node.as_str().filter(|_| !matches!(node.value, Value::Seq(_) | Value::Map(_)))?;
    match parse_target(text) {
        Ok(d) => Some(d),
        Err(e) => {
            r.error(node.pos, format!("`{field}`: {e}"));
            None
        }
    }
}

/// The duration of a performance target: `< 5s response` → 5 s.
pub fn parse_target(text: &str) -> Result<Duration, String> {
    let expected = || format!("expected `< DURATION [what]`, such as `< 5s response`, not `{text}`");
    let rest = text.trim().strip_prefix('<').ok_or_else(expected)?;
    let amount = rest.split_whitespace().next().ok_or_else(expected)?;
    let d = parse_duration(amount).map_err(|e| format!("{e} (in `{text}`)"))?;
    if d.is_zero() {
        return Err(format!("a target of zero can never be met (`{text}`)"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_targets_read_as_durations() {
        assert_eq!(parse_target("< 5s response"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_target("< 2s generation"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_target("<10s validation"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_target("< 250ms"), Ok(Duration::from_millis(250)));
    }

    #[test]
    fn a_target_without_its_bound_or_duration_is_refused() {
        assert_eq!(
            parse_target("5s response"),
            Err("expected `< DURATION [what]`, such as `< 5s response`, not `5s response`".into())
        );
        assert!(parse_target("< fast").is_err_and(|e| e.contains("(in `< fast`)")), "{:?}", parse_target("< fast"));
        assert_eq!(parse_target("< 0s"), Err("a target of zero can never be met (`< 0s`)".into()));
    }
}

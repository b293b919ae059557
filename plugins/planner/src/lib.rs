//! `planner`: turns a backlog, the last run's failures and a snapshot of what
//! already exists into an ordered session plan and acceptance criteria — the
//! `planning` stage of the orchestration flow (inputs `snapshot`, `backlog`,
//! `failures`; outputs `session_plan`, `acceptance_criteria`).
//!
//! Each input is either an inline object or a workspace-relative path to a
//! `.json`, `.yaml` or `.yml` file. The backlog is validated (ids and titles
//! present, ids unique, dependencies known and acyclic), then ordered
//! topologically: among the items whose dependencies are scheduled, items a
//! failure names (and what they depend on) go first, then higher priority,
//! then backlog order. Items a failure names become `fix` tasks; items whose
//! resource the snapshot already has become `extend` tasks; the rest `create`.
//!
//! Writes `session_plan.md`, `acceptance_criteria.md` and `session_plan.json`
//! into the out dir and logs one line per task. The same input always gives
//! byte-identical output.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Component, Path};

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use taylordash_sdk::{Context, Level, Tool, ToolError, export_tool};

mod plan;
use plan::*;

// ---------------------------------------------------------------------------
// Input and output types

/// What to plan from. Each field is an inline object or a workspace-relative
/// path to a `.json`, `.yaml` or `.yml` file holding that object; `backlog`
/// and `failures` may also be the bare list of items (of failures).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlannerInput {
    /// `{ "items": [ { "id", "title", "description"?, "priority"?, "resource"?,
    /// "acceptance"?, "depends_on"? } ] }`; `priority` is `high`, `medium`,
    /// `low` or an integer rank (1 = high, 2 = medium, 3 = low; lower first).
    /// A bare list is read as the `items`.
    #[schemars(schema_with = "source_schema")]
    pub backlog: Value,
    /// The last run's failures: `{ "failures": [ { "check", "message", "item"? } ] }`,
    /// or the bare list.
    #[serde(default)]
    #[schemars(schema_with = "optional_list_source_schema")]
    pub failures: Option<Value>,
    /// What already exists: `{ "files": [paths], "services"?: [names] }`.
    #[serde(default)]
    #[schemars(schema_with = "optional_source_schema")]
    pub snapshot: Option<Value>,
}

fn source_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "anyOf": [
            { "type": "string", "description": "a workspace-relative .json, .yaml or .yml file" },
            { "type": "object" },
            { "type": "array", "description": "the bare list of items" }
        ]
    })
}

fn optional_list_source_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "anyOf": [
            { "type": "string", "description": "a workspace-relative .json, .yaml or .yml file" },
            { "type": "object" },
            { "type": "array", "description": "the bare list of failures" },
            { "type": "null" }
        ]
    })
}

fn optional_source_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "anyOf": [
            { "type": "string", "description": "a workspace-relative .json, .yaml or .yml file" },
            { "type": "object" },
            { "type": "null" }
        ]
    })
}

/// The plan, its acceptance criteria, and the files written into the out dir.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlannerOutput {
    pub session_plan: SessionPlan,
    /// One group per task, in task order; failures naming no item form a
    /// last group with `item: null` (the whole session).
    pub acceptance_criteria: Vec<ItemCriteria>,
    /// Files written into the out dir.
    pub files: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionPlan {
    /// The backlog items in the order to work on them.
    pub tasks: Vec<Task>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Task {
    /// 1-based position in the plan.
    pub order: u32,
    pub id: String,
    pub title: String,
    pub action: Action,
    /// The item's dependencies, all scheduled earlier.
    pub depends_on: Vec<String>,
    /// Why this action, and why at this position.
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The last run's failures naming this item: fix these first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fix_first: Vec<FixFirst>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The resource is not in the snapshot.
    Create,
    /// The resource is in the snapshot: change it, do not recreate it.
    Extend,
    /// A check failed on this item in the last run.
    Fix,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Extend => "extend",
            Action::Fix => "fix",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FixFirst {
    pub check: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ItemCriteria {
    /// The backlog item id, or null for criteria of the whole session.
    pub item: Option<String>,
    pub criteria: Vec<String>,
}

// ---------------------------------------------------------------------------
// The tool

pub struct Planner;

pub const SESSION_PLAN_MD: &str = "session_plan.md";
pub const ACCEPTANCE_MD: &str = "acceptance_criteria.md";
pub const SESSION_PLAN_JSON: &str = "session_plan.json";

impl Tool for Planner {
    const NAME: &'static str = "planner";
    const DESCRIPTION: &'static str = "Orders a backlog into a session plan with acceptance criteria, \
         fixing the last run's failures first and extending what the snapshot already has.";
    type Input = PlannerInput;
    type Output = PlannerOutput;

    fn run(input: PlannerInput, _cx: &Context) -> Result<PlannerOutput, ToolError> {
        let (backlog, backlog_name) = load::<RawBacklog>("backlog", "items", &input.backlog)?;
        let items = validate_items(&backlog_name, backlog.items)?;
        let failures = match &input.failures {
            Some(src) => {
                let (raw, name) = load::<RawFailures>("failures", "failures", src)?;
                validate_failures(&name, raw.failures, &items)?
            }
            None => Vec::new(),
        };
        let snapshot = match &input.snapshot {
            Some(src) => {
                let (raw, name) = load::<RawSnapshot>("snapshot", "", src)?;
                Snapshot::from_raw(&name, raw)?
            }
            None => Snapshot::default(),
        };

        let order = schedule(&backlog_name, &items, &failures)?;
        let output = build_plan(&items, &order, &failures, &snapshot);

        for task in &output.session_plan.tasks {
            taylordash_sdk::log(
                Level::Info,
                &format!(
                    "task {}/{}: {} `{}` ({})",
                    task.order,
                    output.session_plan.tasks.len(),
                    task.action.as_str(),
                    task.id,
                    task.title
                ),
            );
        }

        let json = serde_json::to_string_pretty(&output)
            .map_err(|e| ToolError::Failed(format!("cannot serialise {SESSION_PLAN_JSON}: {e}")))?;
        write_out(SESSION_PLAN_MD, &render_plan_md(&output))?;
        write_out(ACCEPTANCE_MD, &render_criteria_md(&output, &items))?;
        write_out(SESSION_PLAN_JSON, &(json + "\n"))?;
        Ok(output)
    }
}

export_tool!(Planner);

#[cfg(test)]
mod tests;

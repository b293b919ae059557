//! Pipelines: the seed's YAML orchestration documents, read with positions,
//! validated as a whole, and planned as a stage graph.
//!
//! [`crate::yaml`] turns text into a positioned tree (refusing YAML bombs),
//! `model` reads the tree into a [`Pipeline`] with the shared reader,
//! `check` validates names, roles, dependencies and inputs, `plan` orders
//! the stages, `template` parses the seed's `{{.Variable}}` templates, `contract` says
//! what they hold for one agent. Every problem is a
//! [`Diagnostic`] `file:line:col: message`, and all of them are reported at
//! once. This module imports nothing from the sandbox: the tool names it
//! checks against come from [`crate::catalog`], units from [`crate::units`].

pub mod check;
pub mod contract;
pub mod mcp;
pub mod model;
pub mod plan;
pub mod template;

use std::path::Path;

pub use check::Context;
pub use model::{Agent, Backoff, Gate, Named, Pipeline, Policies, Stage, TemplateField};
pub use template::Template;

pub use crate::yaml::Pos;
pub use crate::yaml::diagnostic::{Diagnostic, Diagnostics};
use crate::yaml;

/// Read and validate the pipeline in `path`.
pub fn load(path: &Path, cx: &Context) -> Result<Pipeline, Diagnostics> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&file, &text, cx),
        Err(e) => {
            let mut d = Diagnostics::default();
            d.push(&file, Pos { line: 1, col: 1 }, format!("cannot read the pipeline: {e}"));
            Err(d)
        }
    }
}

/// Read and validate pipeline text; `file` names it in diagnostics.
pub fn parse(file: &str, text: &str, cx: &Context) -> Result<Pipeline, Diagnostics> {
    let mut diags = Diagnostics::default();
    let root = match yaml::parse(text, yaml::Limits::default()) {
        Ok(Some(root)) => root,
        Ok(None) => {
            diags.push(file, Pos { line: 1, col: 1 }, "the pipeline is empty");
            return Err(diags);
        }
        Err(e) => {
            diags.push(file, e.pos, e.message);
            return Err(diags);
        }
    };
    let pipeline = model::read(file, &root, &mut diags);
    check::check(&pipeline, cx, &mut diags);
    if diags.is_empty() {
        Ok(pipeline)
    } else {
        diags.0.sort();
        Err(diags)
    }
}

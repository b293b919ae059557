//! `taylordash contracts <pipeline>`: each agent's contract, from the
//! pipeline and what each tool's `describe` says, written to
//! `contracts/<agent>.yaml` in the workspace — where a run reads the
//! response time it holds the agent to.

use std::path::PathBuf;

use clap::Args;
use serde_json::{Value, json};

use super::{Cli, UsageError};
use crate::orchestrator::contract::CONTRACTS_DIR;
use crate::pipeline::{self, Context};
use crate::sandbox::escape::for_terminal;

#[derive(Args)]
pub struct ContractsArgs {
    /// The pipeline whose agents get a contract.
    pipeline: PathBuf,
    /// Where `contracts/` is written.
    #[arg(long, default_value = ".")]
    workspace: PathBuf,
}

pub fn run(cli: &Cli, args: &ContractsArgs) -> anyhow::Result<i32> {
    let cx = Context::with_plugins_dir(cli.plugins_dir.clone());
    let p = match pipeline::load(&args.pipeline, &cx) {
        Ok(p) => p,
        Err(d) => {
            eprintln!("{d}");
            return Ok(2);
        }
    };
    let sandbox = cli.sandbox()?;
    let dir = args.workspace.join(CONTRACTS_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| UsageError(format!("cannot create {}: {e}", dir.display())))?;
    for stage in &p.stages {
        for agent in &stage.agents {
            // What each tool says of itself; a tool that cannot be loaded
            // is named with what went wrong, in its place.
            let tools: Vec<Value> = agent
                .tools
                .iter()
                .map(|t| {
                    let described = crate::catalog::find_plugin(&t.name, &cli.plugins_dir)
                        .ok_or_else(|| "no such plugin".to_string())
                        .and_then(|path| sandbox.load(&path).map_err(|e| e.to_string()))
                        .and_then(|plugin| sandbox.describe(&plugin).map_err(|e| e.to_string()));
                    match described {
                        Ok(info) => json!({ "tool": t.name, "version": for_terminal(&info.version),
                                             "description": for_terminal(&info.description) }),
                        Err(e) => json!({ "tool": t.name, "error": e }),
                    }
                })
                .collect();
            let known = |name: &str| match name {
                "Tools" => Some(Value::from(tools.clone())),
                _ => None,
            };
            let text = pipeline::contract::render(&p, stage, agent, known);
            let path = dir.join(format!("{}.yaml", agent.name));
            std::fs::write(&path, text).map_err(|e| UsageError(format!("cannot write {}: {e}", path.display())))?;
            println!("{}", path.display());
        }
    }
    Ok(0)
}

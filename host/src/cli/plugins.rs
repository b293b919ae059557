//! `taylordash plugins list|inspect`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use serde_json::json;

use super::Cli;
use crate::sandbox::{Sandbox, SandboxError, list_plugins, resolve_plugin};

#[derive(Subcommand)]
pub enum PluginsCommand {
    /// Every plugin in the plugins directory: name, version, size, sha256.
    List {
        /// Directory to list (default: --plugins-dir).
        #[arg(long)]
        dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// What a plugin says about itself: description, schemas, imports, exports.
    Inspect {
        /// Tool name (looked up in the plugins dir) or path to a .wasm file.
        plugin: String,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cli: &Cli, cmd: &PluginsCommand) -> anyhow::Result<i32> {
    let sandbox = cli.sandbox()?;
    match cmd {
        PluginsCommand::List { dir, json } => list(&sandbox, dir.as_ref().unwrap_or(&cli.plugins_dir), *json),
        PluginsCommand::Inspect { plugin, json } => inspect(&sandbox, &resolve_plugin(plugin, &cli.plugins_dir)?, *json),
    }
}

fn list(sandbox: &Sandbox, dir: &PathBuf, as_json: bool) -> anyhow::Result<i32> {
    let paths = list_plugins(dir)
        .map_err(|e| super::UsageError(format!("cannot list plugins in {}: {e}", dir.display())))?;
    let mut rows = Vec::new();
    let mut failed = false;
    for path in paths {
        let row = sandbox.load(&path).and_then(|p| {
            let info = sandbox.describe(&p)?;
            Ok(json!({ "name": p.name, "tool": info.name, "version": info.version, "size": p.size,
                       "sha256": p.sha256, "path": p.path }))
        });
        match row {
            Ok(r) => rows.push(r),
            Err(e) => {
                failed = true;
                eprintln!("error: {e}");
            }
        }
    }
    if as_json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!("{:<20} {:<10} {:>10}  SHA256", "NAME", "VERSION", "SIZE");
        for r in &rows {
            println!(
                "{:<20} {:<10} {:>10}  {}",
                r["name"].as_str().unwrap_or_default(),
                r["version"].as_str().unwrap_or_default(),
                r["size"],
                r["sha256"].as_str().unwrap_or_default()
            );
        }
    }
    Ok(if failed { 1 } else { 0 })
}

fn inspect(sandbox: &Sandbox, path: &PathBuf, as_json: bool) -> anyhow::Result<i32> {
    let plugin = sandbox.load(path)?;
    let info = sandbox.describe(&plugin)?;
    let (imports, exports) = plugin.interface(sandbox.engine());
    let schema = |text: &str| -> Result<serde_json::Value, SandboxError> {
        serde_json::from_str(text).map_err(|e| SandboxError::BadOutput {
            plugin: plugin.name.clone(),
            message: format!("describe returned a schema that is not JSON: {e}"),
        })
    };
    let doc = json!({
        "name": info.name, "version": info.version, "description": info.description,
        "file": { "path": plugin.path, "size": plugin.size, "sha256": plugin.sha256 },
        "imports": imports, "exports": exports,
        "input_schema": schema(&info.input_schema)?, "output_schema": schema(&info.output_schema)?,
    });
    if as_json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(0);
    }
    println!("{} {} — {}", info.name, info.version, info.description);
    println!("file     {} ({} bytes, sha256 {})", plugin.path.display(), plugin.size, plugin.sha256);
    println!("imports  {}", imports.join("\n         "));
    println!("exports  {}", exports.join("\n         "));
    println!("input schema:\n{}", serde_json::to_string_pretty(&doc["input_schema"]).context("schema")?);
    println!("output schema:\n{}", serde_json::to_string_pretty(&doc["output_schema"]).context("schema")?);
    Ok(0)
}

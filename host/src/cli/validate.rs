//! `taylordash validate <file>...`: every problem of every file, at once.

use std::path::PathBuf;

use clap::Args;

use super::Cli;
use crate::pipeline::{self, Context, Diagnostics};

#[derive(Args)]
pub struct ValidateArgs {
    /// Pipeline files to check.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print the problems as JSON on stdout.
    #[arg(long)]
    json: bool,
}

pub fn run(cli: &Cli, args: &ValidateArgs) -> anyhow::Result<i32> {
    let cx = Context::with_plugins_dir(cli.plugins_dir.clone());
    let mut all = Diagnostics::default();
    for file in &args.files {
        match pipeline::load(file, &cx) {
            Ok(p) if !args.json => println!("ok: {} ({} stages)", file.display(), p.stages.len()),
            Ok(_) => {}
            Err(d) => all.0.extend(d.0),
        }
    }
    if args.json {
        let rows: Vec<_> = all
            .0
            .iter()
            .map(|d| serde_json::json!({ "file": d.file, "line": d.pos.line, "col": d.pos.col, "message": d.message }))
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else if !all.is_empty() {
        eprintln!("{all}");
        eprintln!("{} problem(s) found", all.len());
    }
    Ok(if all.is_empty() { 0 } else { 2 })
}

//! `taylordash audit [--run ID] [--denied | --decisions]`: the audit trail,
//! filtered, or the decision audit trail (every conflict between agents and
//! how it was resolved, from the runs' journals); times in local RFC 3339
//! (raw Unix milliseconds with `--json`).

use taylordash_protocol::ExitCode;
use clap::Args;

use super::Cli;
use crate::sandbox::escape::for_terminal;

#[derive(Args)]
pub struct AuditArgs {
    /// Only events of this run.
    #[arg(long)]
    run: Option<String>,
    /// Only denials.
    #[arg(long, conflicts_with = "decisions")]
    denied: bool,
    /// The decision audit trail: conflicts between agents and their resolution.
    #[arg(long)]
    decisions: bool,
    #[arg(long)]
    json: bool,
}

pub fn run(cli: &Cli, args: &AuditArgs) -> anyhow::Result<i32> {
    if args.decisions {
        return decisions(cli, args);
    }
    let log = cli.audit_log();
    let events: Vec<_> = log
        .read()?
        .into_iter()
        .filter(|e| args.run.as_ref().is_none_or(|r| &e.run_id == r))
        .filter(|e| !args.denied || e.decision == "deny")
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&events)?);
        return Ok(ExitCode::Ok.code());
    }
    println!("{:<25} {:<6} {:<12} {:<18} {:<14} DETAIL", "AT", "DECIDE", "PRINCIPAL", "PLUGIN", "CAPABILITY");
    for e in events {
        // Who acted for the principal, and on which worker, when anyone else did.
        let mut who = e.principal.clone();
        if !e.actor.is_empty() {
            who.push_str(&format!(" (by {})", e.actor));
        }
        if !e.worker.is_empty() {
            who.push_str(&format!(" @{}", e.worker));
        }
        println!(
            "{:<25} {:<6} {:<12} {:<18} {:<14} {}",
            super::time::local_rfc3339(e.at),
            e.decision, for_terminal(&who), e.plugin, e.capability, for_terminal(&e.detail)
        );
    }
    Ok(ExitCode::Ok.code())
}

/// Every `decision` event of the runs' journals, oldest run first.
fn decisions(cli: &Cli, args: &AuditArgs) -> anyhow::Result<i32> {
    let journals = cli.journals();
    let mut rows = Vec::new();
    for run in journals.runs()?.into_iter().filter(|r| args.run.as_ref().is_none_or(|id| &r.id == id)) {
        let journal = journals.open(&run.id)?;
        for e in journal.events()?.into_iter().filter(|e| e.kind == "decision") {
            let data: serde_json::Value = serde_json::from_str(&e.data).unwrap_or_default();
            rows.push((e.at, run.id.clone(), data));
        }
    }
    if args.json {
        let out: Vec<_> = rows.iter().map(|(at, run, d)| serde_json::json!({ "at": at, "run": run, "decision": d })).collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::Ok.code());
    }
    println!("{:<25} {:<16} {:<14} {:<24} {:<44} {:<22} KEPT / DISCARDED", "AT", "RUN", "STAGE", "DETECTION", "RESOLUTION", "PATH");
    for (at, run, d) in rows {
        let text = |k: &str| for_terminal(d[k].as_str().unwrap_or("-"));
        println!(
            "{:<25} {:<16} {:<14} {:<24} {:<44} {:<22} {} / {}",
            super::time::local_rfc3339(at),
            run,
            text("stage"),
            text("detection"),
            text("resolution"),
            text("path"),
            text("kept"),
            text("discarded")
        );
    }
    Ok(ExitCode::Ok.code())
}

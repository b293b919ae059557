//! `taylordash audit [--run ID] [--denied]`: the audit trail, filtered; times
//! in local RFC 3339 (raw Unix milliseconds with `--json`).

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
    #[arg(long)]
    denied: bool,
    #[arg(long)]
    json: bool,
}

pub fn run(cli: &Cli, args: &AuditArgs) -> anyhow::Result<i32> {
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

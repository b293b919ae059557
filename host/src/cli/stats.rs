//! `taylordash stats [--run RUN] [--since 24h] [--json] [--check]`: the
//! seed's agent metrics over the runs directory, each against its target;
//! `--check` raises the seed's manual triggers (journal + audit) and exits 1
//! when one fires.

use clap::Args;
use taylordash_protocol::ExitCode;

use super::{Cli, UsageError};
use crate::observe::{self, Stats};
use crate::store::now_ms;

#[derive(Args)]
pub struct StatsArgs {
    /// Only this run (baselines still come from the runs before it).
    #[arg(long)]
    run: Option<String>,
    /// The window: runs updated within this long before now.
    #[arg(long, default_value = "24h", value_parser = crate::units::parse_duration)]
    since: std::time::Duration,
    #[arg(long)]
    json: bool,
    /// Record the seed's manual triggers that fire (an event in the run's
    /// journal, a line in the audit log) and exit 1 if any does.
    #[arg(long)]
    check: bool,
}

pub fn run(cli: &Cli, args: &StatsArgs) -> anyhow::Result<i32> {
    let journals = cli.journals();
    let audit = cli.audit_log();
    let now = now_ms();
    let since = now.saturating_sub(args.since.as_millis() as i64);
    // With --run, the window is that run whenever it ran.
    let since = if args.run.is_some() { i64::MIN } else { since };
    let scope = observe::Scope { since_ms: since, now_ms: now, run: args.run.as_deref(), queue_samples: &[] };
    let look = observe::look(crate::store::read_runs(&journals), &audit, scope);
    if let Some(run) = &args.run
        && !look.runs.iter().any(|r| &r.run.id == run)
    {
        return Err(UsageError(format!("no run `{run}` in {}", journals.describe())).into());
    }
    let stats = &look.stats;
    if args.json {
        println!("{}", serde_json::to_string_pretty(stats)?);
    } else {
        print_text(stats);
    }
    if args.check {
        observe::raise_triggers(stats, &journals, &audit);
        if !stats.alerts.is_empty() {
            for a in &stats.alerts {
                eprintln!("trigger: {}: {}", a.kind, a.message);
            }
            return Ok(ExitCode::Failed.code());
        }
    }
    Ok(ExitCode::Ok.code())
}

fn print_text(s: &Stats) {
    println!("{} run(s) since {}", s.runs, super::time::local_rfc3339(s.since_ms));
    println!("{:<30} {:>12}  {:<30} OK", "KPI", "VALUE", "TARGET");
    for k in &s.kpis {
        let ok = match k.meets {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        println!("{:<30} {:>12}  {:<30} {ok}", k.label, k.display, k.target);
    }
    if let Some(b) = &s.bottleneck {
        println!("bottleneck: stage `{}` of {} ({:.2} s on average)", b.stage, b.pipeline, b.seconds);
    }
    if !s.agents.is_empty() {
        println!("{:<24} {:>6} {:>16} {:>12} {:>10}", "AGENT", "TASKS", "FUEL", "PEAK MEM", "CPU (s)");
        for (agent, u) in &s.agents {
            println!(
                "{agent:<24} {:>6} {:>16} {:>9.1} MiB {:>10.2}",
                u.tasks,
                u.fuel,
                u.memory_peak_bytes as f64 / (1024.0 * 1024.0),
                u.call_seconds
            );
        }
    }
    for d in &s.detectors {
        println!("{}: {} ({})", d.label, if d.fired { "FIRED" } else { "no" }, d.detail);
    }
    for a in &s.alerts {
        println!("alert {}: {}", a.kind, a.message);
    }
}

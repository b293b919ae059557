//! `taylordash invoke <plugin> --input <json|@file>`: one call, its JSON on
//! stdout, its logs on stderr, its `/out` merged into `--out`.

use taylordash_protocol::ExitCode;
use std::path::{Path, PathBuf};

use clap::Args;

use super::{Cli, UsageError};
use crate::units::{parse_bytes, parse_duration};
use crate::audit::call_events;
use crate::sandbox::{Call, Quotas, resolve_plugin};

#[derive(Args)]
pub struct InvokeArgs {
    /// Tool name (looked up in the plugins dir) or path to a .wasm file.
    plugin: String,
    /// The input: JSON text, `@file`, or `@-` for stdin.
    #[arg(long)]
    input: String,
    /// Preopened read-only as /workspace.
    #[arg(long, default_value = ".")]
    workspace: PathBuf,
    /// Where the tool's /out is merged after success (default: the workspace).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Refuse to overwrite existing files when merging /out.
    #[arg(long)]
    add_only: bool,
    /// Memory quota, e.g. 64MiB.
    #[arg(long, value_parser = parse_bytes)]
    memory: Option<u64>,
    /// Fuel quota (roughly, wasm instructions).
    #[arg(long)]
    fuel: Option<u64>,
    /// Wall-clock quota, e.g. 2s or 500ms.
    #[arg(long, value_parser = parse_duration)]
    timeout: Option<std::time::Duration>,
    /// Output quota, e.g. 1MiB.
    #[arg(long, value_parser = parse_bytes)]
    output: Option<u64>,
}

pub fn run(cli: &Cli, args: &InvokeArgs) -> anyhow::Result<i32> {
    let input = read_input(&args.input)?;
    let workspace = existing_dir(&args.workspace, "--workspace")?;
    let out = match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| UsageError(format!("--out {}: {e}", dir.display())))?;
            existing_dir(dir, "--out")?
        }
        None => workspace.clone(),
    };
    // Quotas: the policy's for this plugin (or the defaults), then the flags.
    let path = resolve_plugin(&args.plugin, &cli.plugins_dir)?;
    let name = crate::catalog::plugin_name(&path);
    let policy = cli.policy()?;
    let caller = cli.caller()?;
    if let Some(p) = policy.as_ref()
        && !p.may_call(&name, &caller.role)
    {
        let refusal = crate::dispatch::role_refusal(&name, &caller);
        cli.audit_log().append(&[caller.subject(name.clone()).event("rbac", "deny", refusal.message.clone())]);
        eprintln!("error: {refusal}");
        return Ok(refusal.exit_code);
    }
    let (base, grants) = crate::policy::call_limits(policy.as_ref(), &name, &caller.role, Quotas::default())
        .map_err(|e| UsageError(format!("policy for `{name}`: {e}")))?;
    let quotas = Quotas {
        memory: args.memory.unwrap_or(base.memory),
        fuel: args.fuel.unwrap_or(base.fuel),
        timeout: args.timeout.unwrap_or(base.timeout),
        output: args.output.unwrap_or(base.output),
        ..base
    };
    let sandbox = cli.sandbox()?;
    let plugin = sandbox.load_checked(&path, |n, sha| Ok(crate::policy::admit(policy.as_ref(), &path, n, sha)?)).inspect_err(|e| {
        let subject = caller.subject(name.clone());
        cli.audit_log().append(&call_events(&subject, Err(e)));
    })?;
    let call = Call { input: &input, quotas, grants, workspace: Some(&workspace), ..Call::default() };
    let result = sandbox.run_task(&plugin, &call, &out, args.add_only);
    let subject = caller.subject(plugin.name.clone());
    cli.audit_log().append(&call_events(&subject, result.as_ref().map(|t| &t.call)));
    let task = result?;
    println!("{}", task.call.output);
    tracing::info!(
        plugin = %plugin.name,
        duration = ?task.call.duration,
        fuel = task.call.fuel_used,
        merged = task.merged.len(),
        out = %out.display(),
        "ok"
    );
    Ok(ExitCode::Ok.code())
}

/// `--input` as JSON text, checked to be JSON so a typo is a usage error
/// with its position, not a tool failure.
fn read_input(spec: &str) -> Result<String, UsageError> {
    let (text, origin) = match spec.strip_prefix('@') {
        Some("-") => {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .map_err(|e| UsageError(format!("--input @-: cannot read stdin: {e}")))?;
            (s, "stdin".to_string())
        }
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| UsageError(format!("--input @{path}: {e}")))?;
            (text, path.to_string())
        }
        None => (spec.to_string(), "--input".to_string()),
    };
    serde_json::from_str::<serde::de::IgnoredAny>(&text).map_err(|e| {
        UsageError(format!("{origin}:{}:{}: input is not JSON: {e}", e.line(), e.column()))
    })?;
    Ok(text)
}

pub(super) fn existing_dir(dir: &Path, flag: &str) -> Result<PathBuf, UsageError> {
    let canonical = dir
        .canonicalize()
        .map_err(|e| UsageError(format!("{flag} {}: {e}", dir.display())))?;
    if !canonical.is_dir() {
        return Err(UsageError(format!("{flag} {}: not a directory", dir.display())));
    }
    Ok(canonical)
}

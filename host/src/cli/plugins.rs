//! `taylordash plugins list|inspect|keygen|sign|verify`.
//!
//! Whatever a plugin's `describe` says (name, version, description, schemas)
//! is guest text: it goes through [`for_terminal`] before it is printed, as
//! text or as JSON (serde_json leaves DEL, C1 controls and bidi overrides raw).

use taylordash_protocol::ExitCode;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;
use serde_json::json;

use super::Cli;
use crate::policy::trust;
use crate::sandbox::escape::for_terminal;
use crate::catalog::list_plugins;
use crate::sandbox::producers::{Producers, SLOW_COMPILE_BYTES};
use crate::sandbox::{Sandbox, SandboxError, resolve_plugin};

#[derive(Subcommand)]
pub enum PluginsCommand {
    /// Every plugin in the plugins directory: name, version, language, size, sha256.
    List {
        /// Directory to list (default: --plugins-dir).
        #[arg(long)]
        dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// What a plugin says about itself (description, schemas) and what it is
    /// (toolchain from its producers section, size, imports, exports).
    Inspect {
        /// Tool name (looked up in the plugins dir) or path to a .wasm file.
        plugin: String,
        #[arg(long)]
        json: bool,
    },
    /// Make an Ed25519 signing key; prints the public key for `trusted_keys`.
    Keygen {
        /// Where to write the secret key (hex, mode 0600).
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a plugin: writes `<plugin>.wasm.sig` beside it.
    Sign {
        plugin: String,
        /// The secret key file from `keygen`.
        #[arg(long)]
        key: PathBuf,
    },
    /// Check a plugin's signature against the policy's trusted_keys (or --key).
    Verify {
        plugin: String,
        /// A trusted public key `ed25519:<hex>` (repeatable); default: the policy's.
        #[arg(long = "trusted-key")]
        trusted: Vec<String>,
    },
}

pub fn run(cli: &Cli, cmd: &PluginsCommand) -> anyhow::Result<i32> {
    match cmd {
        PluginsCommand::List { dir, json } => list(&cli.sandbox()?, dir.as_ref().unwrap_or(&cli.plugins_dir), *json),
        PluginsCommand::Inspect { plugin, json } => {
            inspect(&cli.sandbox()?, &resolve_plugin(plugin, &cli.plugins_dir)?, *json)
        }
        PluginsCommand::Keygen { out } => keygen(out),
        PluginsCommand::Sign { plugin, key } => sign(&resolve_plugin(plugin, &cli.plugins_dir)?, key),
        PluginsCommand::Verify { plugin, trusted } => verify(cli, &resolve_plugin(plugin, &cli.plugins_dir)?, trusted),
    }
}

fn digest_of(path: &std::path::Path) -> anyhow::Result<String> {
    use sha2::Digest;
    let bytes = std::fs::read(path).map_err(|e| super::UsageError(format!("{}: {e}", path.display())))?;
    Ok(hex::encode(sha2::Sha256::digest(&bytes)))
}

fn keygen(out: &std::path::Path) -> anyhow::Result<i32> {
    let key = trust::generate()?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(out)
        .map_err(|e| super::UsageError(format!("{}: {e} (keygen never overwrites a key)", out.display())))?;
    std::io::Write::write_all(&mut f, hex::encode(key.to_bytes()).as_bytes())?;
    println!("{}", trust::public_key_text(&key.verifying_key()));
    Ok(ExitCode::Ok.code())
}

fn sign(path: &std::path::Path, key: &std::path::Path) -> anyhow::Result<i32> {
    let key = trust::read_signing_key(key).map_err(|e| super::UsageError(e.to_string()))?;
    let name = crate::catalog::plugin_name(path);
    let file = trust::sign(&key, &name, &digest_of(path)?);
    let sig = trust::sig_path(path);
    std::fs::write(&sig, serde_json::to_string_pretty(&file)?)?;
    println!("signed {name} (sha256 {}) with {} -> {}", file.sha256, file.key, sig.display());
    Ok(ExitCode::Ok.code())
}

fn verify(cli: &Cli, path: &std::path::Path, trusted: &[String]) -> anyhow::Result<i32> {
    let keys = if trusted.is_empty() {
        cli.policy()?.map(|p| p.trusted_keys).unwrap_or_default()
    } else {
        trusted.to_vec()
    };
    if keys.is_empty() {
        return Err(super::UsageError("no trusted keys: pass --trusted-key or a --policy with trusted_keys".into()).into());
    }
    let name = crate::catalog::plugin_name(path);
    let subject = cli.caller()?.subject(name.clone());
    match trust::verify(path, &name, &digest_of(path)?, &keys) {
        Ok(key) => {
            cli.audit_log().append(&[subject.event("signature", "allow", format!("signed by {key}"))]);
            println!("ok: {name} is signed by {key}");
            Ok(ExitCode::Ok.code())
        }
        Err(e) => {
            cli.audit_log().append(&[subject.event("signature", "deny", e.to_string())]);
            eprintln!("error: {e}");
            Ok(ExitCode::Denied.code())
        }
    }
}

/// The producers of the file at `path` (read again: the sandbox keeps only the compiled code).
fn producers_of(path: &Path) -> Producers {
    std::fs::read(path).map(|bytes| Producers::read(&bytes)).unwrap_or_default()
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

fn list(sandbox: &Sandbox, dir: &Path, as_json: bool) -> anyhow::Result<i32> {
    let paths = list_plugins(dir)
        .map_err(|e| super::UsageError(format!("cannot list plugins in {}: {e}", dir.display())))?;
    let mut rows = Vec::new();
    let mut warnings = Vec::new();
    let mut failed = false;
    for path in paths {
        let started = std::time::Instant::now();
        let row = sandbox.load(&path).and_then(|p| {
            let loaded = started.elapsed();
            let info = sandbox.describe(&p)?;
            let toolchain = producers_of(&p.path).toolchain();
            let made_by = for_terminal(&toolchain.to_string());
            if p.size > SLOW_COMPILE_BYTES {
                let now = if p.from_cache { String::new() } else { format!(" (this one took {:.1} s)", loaded.as_secs_f64()) };
                warnings.push(format!(
                    "warning: {} is {} ({made_by}): its first load on a machine compiles slowly{now}; later loads use the cache",
                    for_terminal(&p.name), mib(p.size)
                ));
            }
            Ok(json!({ "name": for_terminal(&p.name), "tool": for_terminal(&info.name),
                       "version": for_terminal(&info.version), "language": toolchain.language,
                       "toolchain": made_by, "size": p.size,
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
        println!("{:<20} {:<10} {:<10} {:>10}  SHA256", "NAME", "VERSION", "LANGUAGE", "SIZE");
        for r in &rows {
            println!(
                "{:<20} {:<10} {:<10} {:>10}  {}",
                r["name"].as_str().unwrap_or_default(),
                r["version"].as_str().unwrap_or_default(),
                r["language"].as_str().unwrap_or_default(),
                r["size"].as_u64().unwrap_or_default(),
                r["sha256"].as_str().unwrap_or_default()
            );
        }
    }
    for w in warnings {
        eprintln!("{w}");
    }
    Ok(if failed { 1 } else { 0 })
}

fn inspect(sandbox: &Sandbox, path: &Path, as_json: bool) -> anyhow::Result<i32> {
    let plugin = sandbox.load(path)?;
    let info = sandbox.describe(&plugin)?;
    let (imports, exports) = plugin.interface(sandbox.engine());
    let escape_all = |names: Vec<String>| names.iter().map(|n| for_terminal(n)).collect::<Vec<_>>();
    let (imports, exports) = (escape_all(imports), escape_all(exports));
    let schema = |text: &str| -> Result<serde_json::Value, SandboxError> {
        serde_json::from_str(text).map(escaped).map_err(|e| SandboxError::BadOutput {
            plugin: plugin.name.clone(),
            message: format!("describe returned a schema that is not JSON: {e}"),
        })
    };
    let info = crate::sandbox::ToolInfo {
        name: for_terminal(&info.name),
        version: for_terminal(&info.version),
        description: for_terminal(&info.description),
        ..info
    };
    let producers = producers_of(&plugin.path);
    let toolchain = producers.toolchain();
    let doc = json!({
        "name": info.name, "version": info.version, "description": info.description,
        "file": { "path": plugin.path, "size": plugin.size, "sha256": plugin.sha256 },
        "toolchain": escaped(serde_json::to_value(&toolchain)?), "producers": escaped(serde_json::to_value(&producers.entries)?),
        "imports": imports, "exports": exports,
        "input_schema": schema(&info.input_schema)?, "output_schema": schema(&info.output_schema)?,
    });
    if as_json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(ExitCode::Ok.code());
    }
    println!("{} {} — {}", info.name, info.version, info.description);
    println!("file     {} ({} bytes, {}, sha256 {})", plugin.path.display(), plugin.size, mib(plugin.size), plugin.sha256);
    let made_by: Vec<String> = producers.entries.iter().map(|p| for_terminal(format!("{} {}", p.name, p.version).trim_end())).collect();
    println!("made by  {}{}", for_terminal(&toolchain.to_string()),
        if made_by.is_empty() { String::new() } else { format!(" — {}", made_by.join(", ")) });
    println!("imports  {}", imports.join("\n         "));
    println!("exports  {}", exports.join("\n         "));
    println!("input schema:\n{}", serde_json::to_string_pretty(&doc["input_schema"]).context("schema")?);
    println!("output schema:\n{}", serde_json::to_string_pretty(&doc["output_schema"]).context("schema")?);
    Ok(ExitCode::Ok.code())
}

/// `value` with every string in it, keys included, escaped for a terminal.
fn escaped(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(for_terminal(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(escaped).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (for_terminal(&k), escaped(v))).collect()),
        other => other,
    }
}

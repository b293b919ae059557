//! Resolving: which names (input, else `context7.json`), one MCP session,
//! one `resolve-library-id` call per name, `research/libraries.json`.

use serde_json::json;
use taylordash_sdk::{Level, ToolError};

use mcp_client::context7::{
    self, Config, LIBRARIES_FILE, LibrariesFile, MAX_LIBRARIES, RESOLVE_TOOL, ResolvedLibrary,
};
use mcp_client::{Net, Session};

use crate::{ResolveInput, ResolveOutput};

/// The other matches kept per library.
const ALTERNATIVES: usize = 5;

/// The names to resolve: the input's `library` and `libraries`, else
/// `context7.json`'s `libraries`; checked, duplicates dropped.
pub fn names(input: &ResolveInput, config: &Config) -> Result<Vec<String>, ToolError> {
    let mut given: Vec<String> = input
        .library
        .iter()
        .cloned()
        .chain(input.libraries.iter().flatten().cloned())
        .collect();
    if given.is_empty() && input.library.is_none() && input.libraries.is_none() {
        given = config.libraries.clone().unwrap_or_default();
    }
    let mut names: Vec<String> = Vec::new();
    for name in given {
        let name = context7::check_name(&name).map_err(ToolError::InvalidInput)?;
        if !names.contains(&name) {
            names.push(name);
        }
    }
    if names.is_empty() {
        return Err(ToolError::InvalidInput(format!(
            "no library to resolve: pass `library` or `libraries`, or put \"libraries\": [\"fastapi\", …] in {}",
            context7::CONFIG_FILE
        )));
    }
    if names.len() > MAX_LIBRARIES {
        return Err(ToolError::InvalidInput(format!(
            "{} libraries: at most {MAX_LIBRARIES} per call",
            names.len()
        )));
    }
    Ok(names)
}

/// Resolve every name through `net`; write `research/libraries.json`.
pub fn resolve(input: ResolveInput, net: &mut dyn Net) -> Result<ResolveOutput, ToolError> {
    let config = Config::load()?;
    let names = names(&input, &config)?;
    let endpoint = context7::endpoint(input.endpoint.as_deref(), &config)?;
    let shown = endpoint.to_string();
    let mut session = Session::open(
        net,
        endpoint,
        (
            "taylordash-context7_resolve_library",
            env!("CARGO_PKG_VERSION"),
        ),
    )?;
    let mut libraries = Vec::new();
    let mut unresolved = Vec::new();
    for name in &names {
        let result = session.call_tool(RESOLVE_TOOL, json!({ "libraryName": name }))?;
        let matches = context7::parse_matches(&result.text());
        match matches.split_first() {
            Some((best, rest)) => {
                taylordash_sdk::log(
                    Level::Info,
                    &format!("{name} → {} ({})", best.id, best.title),
                );
                libraries.push(ResolvedLibrary {
                    library: name.clone(),
                    id: best.id.clone(),
                    title: best.title.clone(),
                    description: best.description.clone(),
                    alternatives: rest
                        .iter()
                        .take(ALTERNATIVES)
                        .map(|m| m.id.clone())
                        .collect(),
                });
            }
            None => {
                taylordash_sdk::log(
                    Level::Warn,
                    &format!("{name}: {shown} knows no such library"),
                );
                unresolved.push(name.clone());
            }
        }
    }
    session.close();
    if libraries.is_empty() {
        return Err(ToolError::Failed(format!(
            "MCP server {shown}: {RESOLVE_TOOL} found no library for {}",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let file = LibrariesFile {
        endpoint: shown.clone(),
        libraries: libraries.clone(),
    };
    write_out(LIBRARIES_FILE, &file)?;
    Ok(ResolveOutput {
        endpoint: shown,
        libraries,
        unresolved,
        files: vec![LIBRARIES_FILE.to_string()],
    })
}

fn write_out(rel: &str, value: &LibrariesFile) -> Result<(), ToolError> {
    let path = taylordash_sdk::out_dir().join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| ToolError::Failed(format!("{rel}: {e}")))?;
    }
    let mut text = serde_json::to_string_pretty(value).map_err(ToolError::failed)?;
    text.push('\n');
    std::fs::write(&path, text).map_err(|e| ToolError::Failed(format!("{rel}: {e}")))
}

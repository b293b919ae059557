//! Fetching: which ids (input, the previous tool's output, or
//! `research/libraries.json`), one MCP session, one `get-library-docs` call
//! per id, one Markdown file per library in `/out/docs/libraries/`.

use serde_json::{Value, json};
use taylordash_sdk::{Context, Level, ToolError};

use mcp_client::context7::{self, Config, DOCS_TOOL, LIBRARIES_FILE, MAX_LIBRARIES};
use mcp_client::{Net, Session};

use crate::{DocsInput, DocsOutput, Document};

/// The ids to fetch and where they came from: the input's `library_id` and
/// `library_ids`, else the envelope's `previous` (`libraries[].id`), else
/// `research/libraries.json`; checked, duplicates dropped.
pub fn ids(input: &DocsInput, cx: &Context) -> Result<(Vec<String>, &'static str), ToolError> {
    let given: Vec<String> = input
        .library_id
        .iter()
        .cloned()
        .chain(input.library_ids.iter().flatten().cloned())
        .collect();
    let (raw, from) = if input.library_id.is_some() || input.library_ids.is_some() {
        (given, "input")
    } else if let Some(found) = cx
        .envelope()
        .previous
        .as_ref()
        .map(context7::ids_in)
        .filter(|ids| !ids.is_empty())
    {
        (found, "previous")
    } else {
        (from_libraries_file()?, LIBRARIES_FILE)
    };
    let mut ids: Vec<String> = Vec::new();
    for id in raw {
        let id = context7::check_id(&id).map_err(ToolError::InvalidInput)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.is_empty() {
        return Err(ToolError::InvalidInput(format!(
            "no library id: pass `library_id` or `library_ids`, run context7_resolve_library first, or put {LIBRARIES_FILE} in the workspace"
        )));
    }
    if ids.len() > MAX_LIBRARIES {
        return Err(ToolError::InvalidInput(format!(
            "{} library ids: at most {MAX_LIBRARIES} per call",
            ids.len()
        )));
    }
    Ok((ids, from))
}

/// The ids of `research/libraries.json` in the workspace; none when absent.
fn from_libraries_file() -> Result<Vec<String>, ToolError> {
    let path = taylordash_sdk::workspace_dir().join(LIBRARIES_FILE);
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(ToolError::InvalidInput(format!(
                "{LIBRARIES_FILE}: cannot read it: {e}"
            )));
        }
    };
    let doc: Value = serde_json::from_slice(&text)
        .map_err(|e| ToolError::InvalidInput(format!("{LIBRARIES_FILE}: {e}")))?;
    Ok(context7::ids_in(&doc))
}

/// Fetch every library's docs through `net` into `/out/docs/libraries/`.
pub fn get_docs(
    input: DocsInput,
    cx: &Context,
    net: &mut dyn Net,
) -> Result<DocsOutput, ToolError> {
    let config = Config::load()?;
    let (ids, ids_from) = ids(&input, cx)?;
    let tokens = context7::tokens(input.tokens, &config)?;
    let topic = input
        .topic
        .clone()
        .or(config.topic.clone())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    if let Some(t) = &topic
        && (t.chars().count() > 200 || t.chars().any(char::is_control))
    {
        return Err(ToolError::InvalidInput(
            "topic: longer than 200 characters or has control characters".into(),
        ));
    }
    let mut files = Vec::new();
    for id in &ids {
        let file = context7::doc_file(id).map_err(ToolError::InvalidInput)?;
        if files.contains(&file) {
            return Err(ToolError::InvalidInput(format!(
                "two library ids are both written to {file}"
            )));
        }
        files.push(file);
    }
    let endpoint = context7::endpoint(input.endpoint.as_deref(), &config)?;
    let shown = endpoint.to_string();
    let mut session = Session::open(
        net,
        endpoint,
        ("taylordash-context7_get_docs", env!("CARGO_PKG_VERSION")),
    )?;
    let mut documents = Vec::new();
    for (id, file) in ids.iter().zip(&files) {
        let mut args = json!({ "context7CompatibleLibraryID": id, "tokens": tokens });
        if let Some(t) = &topic {
            args["topic"] = json!(t);
        }
        let text = session.call_tool(DOCS_TOOL, args)?.text();
        if text.trim().is_empty() {
            return Err(ToolError::Failed(format!(
                "MCP server {shown}: {DOCS_TOOL} returned no documentation for {id}"
            )));
        }
        let mut text = text;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        write_out(file, &text)?;
        taylordash_sdk::log(
            Level::Info,
            &format!("{id} → {file} ({} bytes)", text.len()),
        );
        documents.push(Document {
            id: id.clone(),
            topic: topic.clone(),
            tokens,
            file: file.clone(),
            bytes: text.len() as u64,
        });
    }
    session.close();
    Ok(DocsOutput {
        endpoint: shown,
        ids_from: ids_from.to_string(),
        documents,
        files,
    })
}

fn write_out(rel: &str, text: &str) -> Result<(), ToolError> {
    let path = taylordash_sdk::out_dir().join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| ToolError::Failed(format!("{rel}: {e}")))?;
    }
    std::fs::write(&path, text).map_err(|e| ToolError::Failed(format!("{rel}: {e}")))
}

//! A native test harness: run a [`Tool`] without wasm.
//!
//! The harness stands in for the sandbox: a temporary workspace and out dir
//! replace `/workspace` and `/out`, `log` and `emit` are captured, and `exec`
//! is denied unless the test installs a handler, as the host denies it
//! without a grant.
//!
//! ```ignore
//! let h = Harness::new();
//! h.write_workspace("backlog.json", r#"{"items": []}"#);
//! let out = h.run::<Planner>(serde_json::json!({ "backlog": "backlog.json" })).unwrap();
//! assert!(h.out_file("plan.md").contains("# Session plan"));
//! // the orchestrator's envelope, as the tool sees it in `cx.envelope()`:
//! let env = Envelope { previous: Some(serde_json::json!({ "files": [] })), ..Envelope::default() };
//! h.run_with::<Planner>(&env, serde_json::json!({ "backlog": "backlog.json" })).unwrap();
//! ```

#![cfg(not(target_arch = "wasm32"))]

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use crate::exec::{Command, Output};
use crate::{Context, Envelope, Level, Tool, ToolError};

type ExecHandler = Box<dyn FnMut(&Command) -> Result<Output, String>>;

pub(crate) struct State {
    pub workspace: PathBuf,
    pub out: PathBuf,
    pub logs: Vec<(Level, String)>,
    pub events: Vec<(String, String)>,
    pub exec: Option<ExecHandler>,
}

thread_local! {
    static CURRENT: RefCell<Option<State>> = const { RefCell::new(None) };
}

pub(crate) fn with_current<R>(f: impl FnOnce(&mut State) -> R) -> R {
    CURRENT.with(|cell| {
        let mut slot = cell.borrow_mut();
        let state = slot
            .as_mut()
            .expect("taylordash-sdk: host functions called natively outside a testing::Harness");
        f(state)
    })
}

/// One sandbox stand-in per test; host calls on this thread go to it.
pub struct Harness {
    _workspace: tempfile::TempDir,
    _out: tempfile::TempDir,
    workspace: PathBuf,
    out: PathBuf,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    /// A harness with an empty workspace and out dir, installed for this thread.
    pub fn new() -> Self {
        let workspace_dir = tempfile::tempdir().expect("create temporary workspace");
        let out_dir = tempfile::tempdir().expect("create temporary out dir");
        let workspace = workspace_dir.path().to_path_buf();
        let out = out_dir.path().to_path_buf();
        CURRENT.with(|cell| {
            *cell.borrow_mut() = Some(State {
                workspace: workspace.clone(),
                out: out.clone(),
                logs: Vec::new(),
                events: Vec::new(),
                exec: None,
            })
        });
        Harness { _workspace: workspace_dir, _out: out_dir, workspace, out }
    }

    /// The directory standing in for `/workspace`.
    pub fn workspace(&self) -> &Path {
        &self.workspace
    }

    /// The directory standing in for `/out`.
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// Put a file into the workspace (parents created).
    pub fn write_workspace(&self, rel: &str, contents: impl AsRef<[u8]>) {
        let path = self.workspace.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create workspace subdirectory");
        }
        std::fs::write(path, contents).expect("write workspace file");
    }

    /// Copy the directory tree `from` (e.g. a checked-in fixture) into the
    /// workspace: the one fixture helper every tool's tests share.
    pub fn copy_into_workspace(&self, from: &Path) {
        copy_tree(from, &self.workspace).unwrap_or_else(|e| panic!("copy fixture {}: {e}", from.display()));
    }

    /// The text of a file the tool wrote into the out dir.
    pub fn out_file(&self, rel: &str) -> String {
        std::fs::read_to_string(self.out.join(rel))
            .unwrap_or_else(|e| panic!("out file {rel}: {e}"))
    }

    /// Grant `exec`, answering each call with `handler`.
    pub fn grant_exec(&self, handler: impl FnMut(&Command) -> Result<Output, String> + 'static) {
        with_current(|h| h.exec = Some(Box::new(handler)))
    }

    /// Log lines captured so far.
    pub fn logs(&self) -> Vec<(Level, String)> {
        with_current(|h| h.logs.clone())
    }

    /// Events `(topic, payload)` captured so far.
    pub fn events(&self) -> Vec<(String, String)> {
        with_current(|h| h.events.clone())
    }

    /// Invoke `T` as the host would: the input goes through JSON text, so a
    /// parse error reads exactly as the component's would.
    pub fn run<T: Tool>(&self, input: serde_json::Value) -> Result<T::Output, ToolError>
    where
        T::Output: serde::de::DeserializeOwned,
    {
        let text = self.run_json::<T>(&input.to_string())?;
        serde_json::from_str(&text).map_err(ToolError::failed)
    }

    /// Invoke `T` with its own `input` fields and the orchestrator's
    /// `envelope` beside them, as the host sends both in one object.
    pub fn run_with<T: Tool>(&self, envelope: &Envelope, input: serde_json::Value) -> Result<T::Output, ToolError>
    where
        T::Output: serde::de::DeserializeOwned,
    {
        let serde_json::Value::Object(fields) = input else {
            panic!("Harness::run_with: the tool's input must be a JSON object to carry an envelope")
        };
        self.run::<T>(serde_json::Value::Object(envelope.wrap(fields)))
    }

    /// Invoke `T` with raw JSON text and get its raw JSON output.
    pub fn run_json<T: Tool>(&self, input: &str) -> Result<String, ToolError> {
        crate::invoke::<T>(input, &Context::default())
    }
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&dest)?;
            copy_tree(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), dest)?;
        }
    }
    Ok(())
}

impl Drop for Harness {
    fn drop(&mut self) {
        CURRENT.with(|cell| *cell.borrow_mut() = None);
    }
}

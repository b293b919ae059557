//! The TaylorDash tool SDK: what a tool author depends on.
//!
//! A tool is a type implementing [`Tool`] with serde input and output types;
//! [`export_tool!`] turns it into a component exporting the `taylordash:agent/tool`
//! world (`wit/agent.wit`). `describe` returns JSON Schemas derived from the
//! types with `schemars` (generated natively at build time by `cargo xtask
//! build-plugins`, so components do not carry schemars), `invoke` parses the
//! input (naming the offending field on error) and serialises the output.
//!
//! The host's imports (`log`, `emit`, `exec`) and the sandbox's two directories
//! are reached through this crate ([`log`], [`emit`], [`exec::run`],
//! [`workspace_dir`], [`out_dir`]), so the same tool code also runs natively
//! under the [`testing::Harness`], which captures logs and events and gives the
//! tool temporary directories in place of `/workspace` and `/out`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize, de::DeserializeOwned};

pub use schemars::{self, JsonSchema};
pub use serde;
pub use serde_json;
pub use taylordash_protocol as protocol;
pub use taylordash_protocol::{Envelope, Feedback, TaskInfo};

mod host;
pub mod testing;

pub use host::{Level, emit, exec, log};

#[doc(hidden)]
// wit-bindgen's generated imports take one argument per WIT parameter.
#[allow(clippy::too_many_arguments)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "tool",
        pub_export_macro: true,
        export_macro_name: "__export_tool_world",
        default_bindings_module: "::taylordash_sdk::bindings",
    });
}

/// Where the sandbox preopens the run's workspace, read-only.
pub const WORKSPACE: &str = "/workspace";
/// Where the sandbox preopens the task's fresh staging directory, read-write.
/// The host merges it into the workspace after the call succeeds.
pub const OUT: &str = "/out";

/// Who is calling, where the call sits in a run's trace, and what the
/// orchestrator handed the tool beside its own input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    pub run_id: String,
    pub task_id: String,
    pub agent_id: String,
    pub trace_id: String,
    pub span_id: String,
    pub attempt: u32,
    /// The envelope keys taken out of the input before it was parsed.
    pub envelope: Envelope,
}

impl Context {
    /// The orchestrator's envelope of this call: `task`, `previous`,
    /// `feedback`, `shared_context` (each absent under `taylordash invoke`
    /// unless the input names it).
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }
}

/// Why a call failed; the host maps it to exit code 1 and the orchestrator
/// retries only [`ToolError::Retryable`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolError {
    /// The input did not match the tool's input schema.
    InvalidInput(String),
    /// The tool ran and failed; the same input fails the same way.
    Failed(String),
    /// A transient failure worth retrying.
    Retryable(String),
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ToolError::InvalidInput(m) => write!(f, "invalid input: {m}"),
            ToolError::Failed(m) => write!(f, "failed: {m}"),
            ToolError::Retryable(m) => write!(f, "retryable: {m}"),
        }
    }
}

impl std::error::Error for ToolError {}

impl ToolError {
    /// A [`ToolError::Failed`] from anything displayable, for `map_err`.
    pub fn failed(err: impl std::fmt::Display) -> Self {
        ToolError::Failed(err.to_string())
    }
}

/// An agent tool: typed JSON in, typed JSON out.
pub trait Tool {
    /// The tool's name as pipelines and the CLI refer to it.
    const NAME: &'static str;
    /// One sentence for `taylordash plugins inspect`.
    const DESCRIPTION: &'static str;
    type Input: DeserializeOwned + JsonSchema;
    type Output: Serialize + JsonSchema;

    fn run(input: Self::Input, cx: &Context) -> Result<Self::Output, ToolError>;
}

/// The `/workspace` directory (a temporary one under the test harness).
pub fn workspace_dir() -> PathBuf {
    host::dirs().0
}

/// The `/out` directory (a temporary one under the test harness).
pub fn out_dir() -> PathBuf {
    host::dirs().1
}

/// The tool's description as the `describe` export returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
    pub description: String,
    pub input_schema: String,
    pub output_schema: String,
}

/// `describe` for tool `T`; `version` comes from the tool crate's Cargo.toml.
pub fn describe<T: Tool>(version: &str) -> ToolInfo {
    ToolInfo {
        name: T::NAME.to_string(),
        version: version.to_string(),
        description: T::DESCRIPTION.to_string(),
        input_schema: schema_text(schemars::schema_for!(T::Input)),
        output_schema: schema_text(schemars::schema_for!(T::Output)),
    }
}

/// A schema as the official MCP clients accept it: no boolean subschemas
/// (`"model": true` for a `serde_json::Value` field becomes `{}`; the
/// TypeScript SDK refuses a tool list holding one) and `"type": "object"` at
/// the root (a tool's input and output are JSON objects; the Python SDK
/// requires it).
fn schema_text(mut schema: schemars::Schema) -> String {
    use schemars::transform::Transform;
    let mut no_bools = schemars::transform::ReplaceBoolSchemas::default();
    no_bools.skip_additional_properties = true;
    no_bools.transform(&mut schema);
    schema.ensure_object().entry("type").or_insert_with(|| "object".into());
    serde_json::to_string(&schema).unwrap_or_else(|_| "{}".to_string())
}

/// `invoke` for tool `T`: take the envelope out of the input, parse the
/// rest into `T::Input`, run, serialise. A parse error names the path of the
/// offending field (`items[2].title: missing field`); a malformed envelope
/// key is named too (`envelope: feedback: …`).
pub fn invoke<T: Tool>(input: &str, cx: &Context) -> Result<String, ToolError> {
    let mut de = serde_json::Deserializer::from_str(input);
    let value = serde_json::Value::deserialize(&mut de).map_err(|e| ToolError::InvalidInput(e.to_string()))?;
    de.end()
        .map_err(|e| ToolError::InvalidInput(format!("trailing data after the input: {e}")))?;
    let (envelope, own) =
        Envelope::split(value).map_err(|e| ToolError::InvalidInput(format!("envelope: {e}")))?;
    let parsed: T::Input = serde_path_to_error::deserialize(own).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            ToolError::InvalidInput(e.into_inner().to_string())
        } else {
            ToolError::InvalidInput(format!("{path}: {}", e.into_inner()))
        }
    })?;
    let cx = Context { envelope, ..cx.clone() };
    let output = T::run(parsed, &cx)?;
    serde_json::to_string(&output)
        .map_err(|e| ToolError::Failed(format!("cannot serialise the output: {e}")))
}

/// Export a [`Tool`] as the component's `describe` and `invoke`.
///
/// ```ignore
/// struct Planner;
/// impl taylordash_sdk::Tool for Planner { /* … */ }
/// taylordash_sdk::export_tool!(Planner);
/// ```
#[macro_export]
macro_rules! export_tool {
    ($tool:ty) => {
        #[doc(hidden)]
        pub struct __TaylorDashExport;

        /// `describe` computed natively: `cargo xtask build-plugins` runs it
        /// before the component build and bakes the schemas into the component.
        #[doc(hidden)]
        pub fn __taylordash_describe() -> $crate::ToolInfo {
            $crate::describe::<$tool>(env!("CARGO_PKG_VERSION"))
        }

        impl $crate::bindings::Guest for __TaylorDashExport {
            fn describe() -> $crate::bindings::taylordash::agent::types::ToolInfo {
                $crate::__private::info_to_wit($crate::__describe_component!($tool))
            }

            fn invoke(
                input: ::std::string::String,
                ctx: $crate::bindings::taylordash::agent::types::Context,
            ) -> ::std::result::Result<
                ::std::string::String,
                $crate::bindings::taylordash::agent::types::ToolError,
            > {
                $crate::invoke::<$tool>(&input, &$crate::__private::context_from_wit(ctx))
                    .map_err($crate::__private::error_to_wit)
            }
        }

        // Only the component exports the world's symbols (`describe`,
        // `invoke`, …): natively, several tools link into one program (the
        // schema generation of `cargo xtask build-plugins`).
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::__export_tool_world!(__TaylorDashExport);
    };
}

/// The component's `describe`: the schemas `cargo xtask build-plugins`
/// generated natively (`$TAYLORDASH_SCHEMAS/<crate>.input.json`,
/// `.output.json`), so the component carries text, not schemars.
#[cfg(taylordash_baked_schemas)]
#[doc(hidden)]
#[macro_export]
macro_rules! __describe_component {
    ($tool:ty) => {
        $crate::__private::baked::<$tool>(
            env!("CARGO_PKG_VERSION"),
            include_str!(concat!(env!("TAYLORDASH_SCHEMAS"), "/", env!("CARGO_PKG_NAME"), ".input.json")),
            include_str!(concat!(env!("TAYLORDASH_SCHEMAS"), "/", env!("CARGO_PKG_NAME"), ".output.json")),
        )
    };
}

/// The component's `describe` built without `cargo xtask build-plugins`
/// (e.g. `cargo build --target wasm32-wasip2` in a project of one's own):
/// the schemas are generated when `describe` is called.
#[cfg(not(taylordash_baked_schemas))]
#[doc(hidden)]
#[macro_export]
macro_rules! __describe_component {
    ($tool:ty) => {
        $crate::describe::<$tool>(env!("CARGO_PKG_VERSION"))
    };
}

#[doc(hidden)]
pub mod __private {
    use super::bindings::taylordash::agent::types as wit;
    use super::{Context, ToolError, ToolInfo};

    /// [`super::describe`] with schemas generated at build time.
    pub fn baked<T: super::Tool>(version: &str, input_schema: &str, output_schema: &str) -> ToolInfo {
        ToolInfo {
            name: T::NAME.to_string(),
            version: version.to_string(),
            description: T::DESCRIPTION.to_string(),
            input_schema: input_schema.to_string(),
            output_schema: output_schema.to_string(),
        }
    }

    pub fn info_to_wit(info: ToolInfo) -> wit::ToolInfo {
        wit::ToolInfo {
            name: info.name,
            version: info.version,
            description: info.description,
            input_schema: info.input_schema,
            output_schema: info.output_schema,
        }
    }

    pub fn context_from_wit(cx: wit::Context) -> Context {
        Context {
            run_id: cx.run_id,
            task_id: cx.task_id,
            agent_id: cx.agent_id,
            trace_id: cx.trace_id,
            span_id: cx.span_id,
            attempt: cx.attempt,
            envelope: super::Envelope::default(),
        }
    }

    pub fn error_to_wit(err: ToolError) -> wit::ToolError {
        match err {
            ToolError::InvalidInput(m) => wit::ToolError::InvalidInput(m),
            ToolError::Failed(m) => wit::ToolError::Failed(m),
            ToolError::Retryable(m) => wit::ToolError::Retryable(m),
        }
    }
}

#[cfg(test)]
mod schema_tests {
    use super::*;

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct WithAnyValue {
        model: serde_json::Value,
        name: String,
    }

    #[derive(serde::Serialize, schemars::JsonSchema)]
    #[serde(untagged)]
    #[allow(dead_code)]
    enum Either {
        Done { files: Vec<String> },
        Skipped { skipped: String },
    }

    #[test]
    fn schemas_have_an_object_root_and_no_boolean_subschemas() {
        let with_value: serde_json::Value = serde_json::from_str(&schema_text(schemars::schema_for!(WithAnyValue))).unwrap();
        assert_eq!(with_value["type"], "object");
        assert_eq!(with_value["properties"]["model"], serde_json::json!({}));
        let untagged: serde_json::Value = serde_json::from_str(&schema_text(schemars::schema_for!(Either))).unwrap();
        assert_eq!(untagged["type"], "object");
        assert!(untagged["anyOf"].is_array());
        let any: serde_json::Value = serde_json::from_str(&schema_text(schemars::schema_for!(serde_json::Value))).unwrap();
        assert_eq!(any["type"], "object");
    }
}

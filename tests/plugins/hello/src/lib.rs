//! `hello`: the tool `taylordash new --lang rust` scaffolds, kept here as the
//! Rust baseline of `host/benches/languages.rs` (its Python and JS twins are
//! `sdk/python/examples/hello` and `sdk/js/examples/hello`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use taylordash_sdk::{Context, Level, Tool, ToolError, export_tool};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Who to greet.
    pub name: String,
}

#[derive(Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Output {
    pub greeting: String,
}

pub struct Hello;

impl Tool for Hello {
    const NAME: &'static str = "hello";
    const DESCRIPTION: &'static str = "Greets someone by name.";
    type Input = Input;
    type Output = Output;

    fn run(input: Input, _cx: &Context) -> Result<Output, ToolError> {
        if input.name.trim().is_empty() {
            return Err(ToolError::InvalidInput("name: must not be empty".into()));
        }
        taylordash_sdk::log(Level::Info, &format!("greeting {}", input.name));
        Ok(Output { greeting: format!("Hello, {}!", input.name) })
    }
}

export_tool!(Hello);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use taylordash_sdk::testing::Harness;

    #[test]
    fn greets_by_name() {
        let h = Harness::new();
        let out = h.run::<Hello>(json!({ "name": "Ada" })).unwrap();
        assert_eq!(out, Output { greeting: "Hello, Ada!".into() });
        assert_eq!(h.logs(), [(Level::Info, "greeting Ada".to_string())]);
    }

    #[test]
    fn refuses_an_empty_name_and_unknown_keys() {
        let h = Harness::new();
        assert!(matches!(h.run::<Hello>(json!({ "name": " " })), Err(ToolError::InvalidInput(m)) if m == "name: must not be empty"));
        assert!(matches!(h.run::<Hello>(json!({ "name": "Ada", "x": 1 })), Err(ToolError::InvalidInput(_))));
    }
}

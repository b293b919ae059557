//! `{{name}}`: greets someone by name. Replace `Input`, `Output` and `run`
//! with your tool; the SDK turns them into JSON Schemas and typed JSON.

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

pub struct {{Name}};

impl Tool for {{Name}} {
    const NAME: &'static str = "{{name}}";
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

export_tool!({{Name}});

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use taylordash_sdk::testing::Harness;

    #[test]
    fn greets_by_name() {
        let h = Harness::new();
        let out = h.run::<{{Name}}>(json!({ "name": "Ada" })).unwrap();
        assert_eq!(out, Output { greeting: "Hello, Ada!".into() });
        assert_eq!(h.logs(), [(Level::Info, "greeting Ada".to_string())]);
    }

    #[test]
    fn refuses_an_empty_name_and_unknown_keys() {
        let h = Harness::new();
        assert!(matches!(h.run::<{{Name}}>(json!({ "name": " " })), Err(ToolError::InvalidInput(m)) if m == "name: must not be empty"));
        assert!(matches!(h.run::<{{Name}}>(json!({ "name": "Ada", "x": 1 })), Err(ToolError::InvalidInput(_))));
    }
}

//! `echo`: returns its input unchanged. The smallest possible tool, used by
//! the benchmarks (the cost of a call, not of a tool) and smoke tests.

use serde_json::Value;
use taylordash_sdk::{Context, Tool, ToolError, export_tool};

pub struct Echo;

impl Tool for Echo {
    const NAME: &'static str = "echo";
    const DESCRIPTION: &'static str = "Returns its input unchanged.";
    type Input = Value;
    type Output = Value;

    fn run(input: Value, _cx: &Context) -> Result<Value, ToolError> {
        Ok(input)
    }
}

export_tool!(Echo);

#[cfg(test)]
mod tests {
    use super::*;
    use taylordash_sdk::testing::Harness;

    #[test]
    fn returns_its_input() {
        let h = Harness::new();
        let out = h.run_json::<Echo>(r#"{"a":[1,2]}"#).unwrap();
        assert_eq!(out, r#"{"a":[1,2]}"#);
    }
}

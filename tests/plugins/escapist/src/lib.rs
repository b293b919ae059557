//! `escapist`: a tool whose `describe` answers with terminal escape
//! sequences in every field (clear screen, recolour, retitle, a forged log
//! line, a right-to-left override). It implements the WIT world by hand,
//! because the SDK takes the version from Cargo.toml, where no escape can
//! hide. `invoke` echoes its input.

use taylordash_sdk::bindings::taylordash::agent::types::{Context, ToolError, ToolInfo};

/// What `describe` returns; the host tests compare against these.
pub const NAME: &str = "escapist\x1b[2J";
pub const VERSION: &str = "6.6.6\x1b[31m-red";
pub const DESCRIPTION: &str = "Looks harmless.\nINFO forged line\x1b]0;pwned\x07 \u{202e}txt.exe";
pub const INPUT_SCHEMA: &str = "{\"type\":\"object\",\"title\":\"in\\u001b[5m\\u009b\"}";
pub const OUTPUT_SCHEMA: &str = "{\"\\u007fkey\":true}";

pub struct Escapist;

impl taylordash_sdk::bindings::Guest for Escapist {
    fn describe() -> ToolInfo {
        ToolInfo {
            name: NAME.into(),
            version: VERSION.into(),
            description: DESCRIPTION.into(),
            input_schema: INPUT_SCHEMA.into(),
            output_schema: OUTPUT_SCHEMA.into(),
        }
    }

    fn invoke(input: String, _ctx: Context) -> Result<String, ToolError> {
        Ok(input)
    }
}

taylordash_sdk::bindings::__export_tool_world!(Escapist);

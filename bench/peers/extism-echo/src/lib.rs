//! `echo` as an Extism plugin: parses its input as JSON and returns it, the
//! work `tests/plugins/echo` does (a `serde_json::Value` in and out).

use extism_pdk::{FnResult, Json, plugin_fn};
use serde_json::Value;

#[plugin_fn]
pub fn echo(Json(input): Json<Value>) -> FnResult<Json<Value>> {
    Ok(Json(input))
}

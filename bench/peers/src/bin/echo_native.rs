//! The native subprocess row of `cargo xtask bench --peers`: reads JSON on
//! stdin and writes it back on stdout, parsed and re-serialized like the
//! sandboxed `echo` plugin.

use std::io::{Read, Write};

fn main() {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).expect("reading stdin");
    let value: serde_json::Value = serde_json::from_str(&input).expect("JSON on stdin");
    let out = serde_json::to_string(&value).expect("serializing");
    std::io::stdout().write_all(out.as_bytes()).expect("writing stdout");
}

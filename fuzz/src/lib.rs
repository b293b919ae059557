//! Fuzz targets for the host's untrusted-input paths (issue #18): the
//! positioned YAML reader and pipeline validation, `policy.yaml`, bus
//! envelopes and their signatures, the JSON Schema validator (against the
//! `jsonschema` crate as an oracle), and the `/out` merge. One file per
//! target in [`targets`]; `cargo xtask fuzz [--time N] [--target NAME]
//! [--release]` runs them through the `taylordash-fuzz` binary, and
//! `cargo test -p taylordash-fuzz` runs each for a few hundred inputs.
//!
//! # The engine, and why not libFuzzer
//!
//! libFuzzer through `libfuzzer-sys` *does* build on stable Rust 1.95: a
//! probe crate compiled with `-Cpasses=sancov-module` and the
//! `-sanitizer-coverage-*` LLVM options (and `--target x86_64-unknown-linux-gnu`,
//! so that build scripts are not instrumented and fail to link) found a
//! four-byte magic in seconds. It is not used here because on stable those
//! `RUSTFLAGS` cannot be scoped to the crates under test (per-package
//! `rustflags` in profiles is nightly-only): every build of a target would be
//! a second, fully instrumented build of the host's whole dependency tree
//! (wasmtime and cranelift, rumqttd, object_store, PostgreSQL, SQLite…) in a
//! target directory of its own — per profile — which the 2-core CI machine
//! would pay for on every run, smoke included. So the engine is a
//! time-bounded, in-process mutation loop that shares the workspace's
//! ordinary build ([`engine`]):
//!
//! - inputs come from the seed corpus (`fuzz/corpus/<target>/`, copied from
//!   `pipelines/`, the seed document, the tests' policy files, …) mutated
//!   byte- and line-wise (bit flips, interesting bytes and numbers, the
//!   target's dictionary of keywords, splices between corpus files, line
//!   deletion/duplication/swap/re-indentation), and from `proptest`
//!   strategies for structure-aware inputs (schemas with instances, file
//!   trees with symlinks, signed envelopes);
//! - there is no coverage, but there is feedback: each target reports a few
//!   *features* of what happened (the shape of every diagnostic, the error
//!   kind, the verdict), and an input that shows a feature never seen before
//!   joins the in-memory corpus to be mutated further;
//! - each input runs under `catch_unwind`: a panic is a crash, saved under
//!   `target/fuzz-crashes/<target>/` (replay it with
//!   `taylordash-fuzz --target NAME --replay FILE`); a target states its
//!   property violations as panics too. A watchdog saves an input that runs
//!   longer than `--hang` seconds and stops the process.
//!
//! Every target is a plain `fn(&[u8], &mut Feedback)`, so a libFuzzer (or
//! AFL) harness could call the same functions unchanged if a separate
//! instrumented build becomes affordable.

pub mod engine;
pub mod targets;

pub use engine::{Feedback, Options, Stats, Target};

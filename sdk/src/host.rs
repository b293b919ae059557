//! The host's imports as plain functions. Inside a component they call the
//! `host` and `exec` imports; natively they go to the [`crate::testing`]
//! harness of the current thread.

use std::path::PathBuf;

/// Severity of a [`log`] line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Log a line through the host; its bytes count against the log quota.
pub fn log(level: Level, message: &str) {
    imp::log(level, message)
}

/// Emit an event on the run's bus.
pub fn emit(topic: &str, payload: &str) {
    imp::emit(topic, payload)
}

pub(crate) fn dirs() -> (PathBuf, PathBuf) {
    imp::dirs()
}

/// Run a program on the host; only programs the policy grants run.
pub mod exec {
    /// A program to run, with its arguments and optional standard input.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct Command {
        pub program: String,
        pub args: Vec<String>,
        pub stdin: Option<String>,
    }

    /// What a finished program left behind.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct Output {
        pub status: i32,
        pub stdout: String,
        pub stderr: String,
    }

    /// Run `cmd`; `Err` says why the host refused or could not run it.
    pub fn run(cmd: &Command) -> Result<Output, String> {
        super::imp::exec(cmd)
    }
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::{Level, exec};
    use crate::bindings::taylordash::agent::{exec as wit_exec, host};
    use std::path::PathBuf;

    pub fn log(level: Level, message: &str) {
        let level = match level {
            Level::Trace => host::Level::Trace,
            Level::Debug => host::Level::Debug,
            Level::Info => host::Level::Info,
            Level::Warn => host::Level::Warn,
            Level::Error => host::Level::Error,
        };
        host::log(level, message)
    }

    pub fn emit(topic: &str, payload: &str) {
        host::emit(topic, payload)
    }

    pub fn dirs() -> (PathBuf, PathBuf) {
        (PathBuf::from(crate::WORKSPACE), PathBuf::from(crate::OUT))
    }

    pub fn exec(cmd: &exec::Command) -> Result<exec::Output, String> {
        let out = wit_exec::run(&wit_exec::Command {
            program: cmd.program.clone(),
            args: cmd.args.clone(),
            stdin: cmd.stdin.clone(),
        })?;
        Ok(exec::Output { status: out.status, stdout: out.stdout, stderr: out.stderr })
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::{Level, exec};
    use crate::testing::with_current;
    use std::path::PathBuf;

    pub fn log(level: Level, message: &str) {
        with_current(|h| h.logs.push((level, message.to_string())))
    }

    pub fn emit(topic: &str, payload: &str) {
        with_current(|h| h.events.push((topic.to_string(), payload.to_string())))
    }

    pub fn dirs() -> (PathBuf, PathBuf) {
        with_current(|h| (h.workspace.clone(), h.out.clone()))
    }

    pub fn exec(cmd: &exec::Command) -> Result<exec::Output, String> {
        with_current(|h| match h.exec.as_mut() {
            Some(handler) => handler(cmd),
            None => Err(format!(
                "exec denied: the tool has no exec grant (program `{}`)",
                cmd.program
            )),
        })
    }
}

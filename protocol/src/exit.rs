//! Exit codes: of the `taylordash` process, of a task (the journal's
//! `attempts.exit_code`) and of a worker's failed result. One table for all.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a non-zero exit means. Serialised as its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, JsonSchema)]
#[repr(i32)]
pub enum ExitCode {
    /// 0: success (also: nothing to do, e.g. resuming a completed run).
    Ok = 0,
    /// 1: the tool or the run failed (any tool error, a failed run, an I/O or store error).
    Failed = 1,
    /// 2: bad usage or configuration (arguments, pipeline, policy, input not JSON, a malformed message).
    Usage = 2,
    /// 3: refused by policy, capabilities, trust or identity.
    Denied = 3,
    /// 4: a quota was exceeded (memory, fuel, time, output, logs, host calls, merge budget).
    Quota = 4,
    /// 5: the plugin trapped (e.g. it panicked).
    Trap = 5,
}

impl ExitCode {
    /// Every code, in order.
    pub const ALL: [ExitCode; 6] =
        [ExitCode::Ok, ExitCode::Failed, ExitCode::Usage, ExitCode::Denied, ExitCode::Quota, ExitCode::Trap];

    /// The number the process exits with.
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// The code a number means, if any.
    pub fn from_code(code: i32) -> Option<ExitCode> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    /// One line on what the code means.
    pub const fn meaning(self) -> &'static str {
        match self {
            ExitCode::Ok => "ok",
            ExitCode::Failed => "the tool or the run failed",
            ExitCode::Usage => "bad usage or configuration",
            ExitCode::Denied => "denied by policy or capabilities",
            ExitCode::Quota => "a quota exceeded",
            ExitCode::Trap => "the plugin trapped",
        }
    }

    /// Whether `code` means a refusal the audit log records as a deny
    /// (denied, or over a quota).
    pub fn is_refusal(code: i32) -> bool {
        code == ExitCode::Denied.code() || code == ExitCode::Quota.code()
    }
}

impl From<ExitCode> for i32 {
    fn from(code: ExitCode) -> i32 {
        code.code()
    }
}

impl Serialize for ExitCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i32(self.code())
    }
}

impl<'de> Deserialize<'de> for ExitCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i32::deserialize(d)?;
        ExitCode::from_code(n).ok_or_else(|| serde::de::Error::custom(format!("unknown exit code {n}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_numbers() {
        let table: Vec<(i32, &str)> = ExitCode::ALL.iter().map(|c| (c.code(), c.meaning())).collect();
        assert_eq!(table[3], (3, "denied by policy or capabilities"));
        assert_eq!(table.len(), 6);
        assert_eq!(serde_json::to_string(&ExitCode::Quota).unwrap(), "4");
        assert_eq!(serde_json::from_str::<ExitCode>("5").unwrap(), ExitCode::Trap);
        assert_eq!(serde_json::from_str::<ExitCode>("9").unwrap_err().to_string(), "unknown exit code 9");
        assert!(ExitCode::is_refusal(4) && !ExitCode::is_refusal(5));
    }
}

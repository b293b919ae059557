//! The statuses the journal records, spelled as it stores them (`runs`,
//! `stages`, `tasks` and `attempts` tables), so journals written before
//! these types existed read the same.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A status text that none of the known statuses spells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStatus(pub String);

impl fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown status `{}`", self.0)
    }
}

impl std::error::Error for UnknownStatus {}

macro_rules! status {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every status, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text the journal stores.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownStatus;
            fn from_str(s: &str) -> Result<Self, UnknownStatus> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(UnknownStatus(other.to_string())),
                }
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.as_str()
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self.as_str() == other.as_str()
            }
        }
    };
}

status!(
    /// A run, in `runs.status`.
    RunStatus {
        /// Started or resumed, not finished.
        Running = "running",
        /// Every stage and run-wide check passed.
        Completed = "completed",
        /// A stage failed past its retries.
        Failed = "failed",
        /// Halted for a human (a security gate, too many failures, no progress).
        NeedsReview = "needs_review",
        /// Stopped on the caller's request (an MCP client's cancellation);
        /// `resume` continues it.
        Cancelled = "cancelled",
    }
);

status!(
    /// A stage, in `stages.status`.
    StageStatus {
        Running = "running",
        /// Its agents and gates passed.
        Done = "done",
        Failed = "failed",
        /// Not run (its condition was false).
        Skipped = "skipped",
    }
);

impl StageStatus {
    /// Whether the stage will not change again in this run.
    pub const fn is_finished(self) -> bool {
        matches!(self, StageStatus::Done | StageStatus::Failed | StageStatus::Skipped)
    }
}

status!(
    /// A task, in `tasks.status`.
    TaskStatus {
        /// Recorded, no attempt started.
        Pending = "pending",
        Running = "running",
        /// Its last attempt failed.
        Failed = "failed",
        /// Succeeded; its `/out` is being merged (resume finishes the merge).
        Merging = "merging",
        /// Succeeded and merged; never run again in this run.
        Done = "done",
    }
);

status!(
    /// One attempt of a task, in `attempts.status`.
    AttemptStatus {
        Running = "running",
        Failed = "failed",
        Succeeded = "succeeded",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_the_journals() {
        let texts = |all: &[&str]| all.join(",");
        assert_eq!(texts(&RunStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>()), "running,completed,failed,needs_review,cancelled");
        assert_eq!(texts(&StageStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>()), "running,done,failed,skipped");
        assert_eq!(texts(&TaskStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>()), "pending,running,failed,merging,done");
        assert_eq!(texts(&AttemptStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>()), "running,failed,succeeded");
        assert_eq!(serde_json::to_string(&RunStatus::NeedsReview).unwrap(), "\"needs_review\"");
        assert_eq!("merging".parse::<TaskStatus>(), Ok(TaskStatus::Merging));
        assert_eq!("Done".parse::<TaskStatus>().unwrap_err().to_string(), "unknown status `Done`");
        assert_eq!(TaskStatus::Done.to_string(), "done");
        let stored: String = "done".into();
        assert!(*"done" == TaskStatus::Done && stored == TaskStatus::Done);
    }
}

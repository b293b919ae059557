//! Per-plugin resource quotas: their values (units such as `64MiB` and `2s`
//! are parsed in [`crate::units`]) and the store limiter that enforces memory, tables and
//! instances while remembering which limit refused a growth.
//!
//! Fuel, wall-clock, output and host-call limits are enforced where the call
//! runs (`invoke.rs`, `host_imports.rs`), the `/out` disk quotas in
//! `out_quota.rs`; this file only holds their values.

use std::fmt;
use std::time::Duration;

/// Which limit a call ran into. Its `Display` is the name used in
/// `quota exceeded: <kind> (limit <n>)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuotaKind {
    Memory,
    Fuel,
    Timeout,
    Output,
    Log,
    HostCalls,
    Tables,
    Instances,
    Stack,
    /// Bytes written to `/out` (apparent size: a hole counts at its length).
    OutBytes,
    /// Files and directories created in `/out`.
    OutFiles,
}

impl fmt::Display for QuotaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QuotaKind::Memory => "memory",
            QuotaKind::Fuel => "fuel",
            QuotaKind::Timeout => "timeout",
            QuotaKind::Output => "output",
            QuotaKind::Log => "log",
            QuotaKind::HostCalls => "host-calls",
            QuotaKind::Tables => "tables",
            QuotaKind::Instances => "instances",
            QuotaKind::Stack => "stack",
            QuotaKind::OutBytes => "out_bytes",
            QuotaKind::OutFiles => "out_files",
        })
    }
}

/// A breach as a value: what `invoke` returns and what host imports raise as
/// a trap so that the call ends at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("quota exceeded: {kind} (limit {limit})")]
pub struct QuotaBreach {
    pub kind: QuotaKind,
    pub limit: u64,
}

/// Limits for one call. Defaults are conservative; a policy raises them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    /// Bytes of linear memory, summed over the component's memories.
    pub memory: u64,
    /// Wasm fuel (roughly, instructions executed).
    pub fuel: u64,
    /// Wall-clock time, enforced by epoch interruption.
    pub timeout: Duration,
    /// Bytes of the JSON the tool returns.
    pub output: u64,
    /// Bytes of log messages.
    pub log: u64,
    /// Calls to the `host` and `exec` imports.
    pub host_calls: u64,
    /// Elements summed over the component's tables.
    pub table_elements: u64,
    /// Core instances the component may create.
    pub instances: u64,
    /// Bytes the call may write to `/out`: every byte written, plus the
    /// length a write past the end or a `set-size` adds (holes count).
    pub out_bytes: u64,
    /// Files and directories the call may create in `/out`.
    pub out_files: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            memory: 64 << 20,
            fuel: 2_000_000_000,
            timeout: Duration::from_secs(10),
            output: 4 << 20,
            log: 1 << 20,
            host_calls: 10_000,
            table_elements: 100_000,
            instances: 32,
            out_bytes: 256 << 20,
            out_files: 10_000,
        }
    }
}

/// The largest memory quota the engine is configured for (wasm32's 4 GiB).
pub const MAX_MEMORY: u64 = 4 << 30;

/// Wasm stack per call. Engine-wide: wasmtime sets it on the `Config`.
pub const WASM_STACK: usize = 1 << 20;

/// Enforces memory, table and instance quotas for one store, and remembers
/// the first growth it refused: a guest that aborts after a refused
/// allocation still reports the quota, not a plain trap.
pub struct Limiter {
    quotas: Quotas,
    memory_used: u64,
    table_elements_used: u64,
    pub(crate) refused: Option<QuotaBreach>,
}

impl Limiter {
    pub fn new(quotas: Quotas) -> Self {
        Limiter { quotas, memory_used: 0, table_elements_used: 0, refused: None }
    }

    /// Linear memory granted so far: wasm memories never shrink, so this is the call's peak.
    pub fn memory_peak(&self) -> u64 {
        self.memory_used
    }

    /// Account a growth from `current` to `desired` against `used`/`limit`;
    /// a refusal is remembered as a breach of `kind`.
    fn grow(used: &mut u64, limit: u64, current: usize, desired: usize) -> bool {
        let grow = desired.saturating_sub(current) as u64;
        if used.saturating_add(grow) > limit {
            return false;
        }
        *used += grow;
        true
    }

    fn decide(&mut self, allowed: bool, kind: QuotaKind, limit: u64) -> wasmtime::Result<bool> {
        if !allowed {
            self.refused.get_or_insert(QuotaBreach { kind, limit });
        }
        Ok(allowed)
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = Self::grow(&mut self.memory_used, self.quotas.memory, current, desired);
        self.decide(allowed, QuotaKind::Memory, self.quotas.memory)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = Self::grow(&mut self.table_elements_used, self.quotas.table_elements, current, desired);
        self.decide(allowed, QuotaKind::Tables, self.quotas.table_elements)
    }

    fn instances(&self) -> usize {
        usize::try_from(self.quotas.instances).unwrap_or(usize::MAX)
    }

    fn memories(&self) -> usize {
        usize::try_from(self.quotas.instances).unwrap_or(usize::MAX)
    }

    fn tables(&self) -> usize {
        usize::try_from(self.quotas.instances).unwrap_or(usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_remembers_the_first_refusal() {
        use wasmtime::ResourceLimiter;
        let mut l = Limiter::new(Quotas { memory: 100, ..Quotas::default() });
        assert!(l.memory_growing(0, 60, None).unwrap());
        assert!(!l.memory_growing(60, 120, None).unwrap());
        assert_eq!(l.refused, Some(QuotaBreach { kind: QuotaKind::Memory, limit: 100 }));
        assert_eq!(l.refused.unwrap().to_string(), "quota exceeded: memory (limit 100)");
    }
}

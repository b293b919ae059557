//! The calling thread's CPU time: how the orchestrator measures the work it
//! does itself (journaling, merging, building envelopes) apart from the
//! tools' calls, for the seed's "orchestrator overload" detector.

use std::time::Duration;

/// CPU time this thread has used so far (zero where the clock is unavailable).
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `clock_gettime` writes one `timespec` through the pointer, which
    // points at a live, properly aligned local; CLOCK_THREAD_CPUTIME_ID is a
    // valid clock on Linux. On failure it returns -1 and `ts` stays zero.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_busy_thread_uses_cpu_time() {
        let before = super::thread_cpu();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        assert!(super::thread_cpu() > before, "{x}");
    }
}

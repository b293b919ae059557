//! Times for people: the journal's and the audit log's Unix milliseconds as
//! local RFC 3339 (`2026-12-03T05:12:09+01:00`); `--json` keeps the raw values.

/// `ms` (Unix milliseconds) in the local time zone, to the second; the
/// raw number when the C library cannot convert it.
pub fn local_rfc3339(ms: i64) -> String {
    // time_t is 32 bits on some targets: a time past it stays a number.
    #[allow(irrefutable_let_patterns)]
    let Ok(secs) = libc::time_t::try_from(ms.div_euclid(1000)) else { return ms.to_string() };
    // SAFETY: `tm` is plain old data for which all-zero bytes are a valid
    // value; localtime_r reads `secs` and writes only `tm`, both alive
    // for the call, and is thread-safe.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    if unsafe { libc::localtime_r(&secs, &mut tm) }.is_null() {
        return ms.to_string();
    }
    let offset = tm.tm_gmtoff;
    let sign = if offset < 0 { '-' } else { '+' };
    let offset = offset.abs();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
        i64::from(tm.tm_year) + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        offset / 3600,
        offset % 3600 / 60
    )
}

/// A duration in milliseconds as people read it: `850 ms`, `12.3 s`, `4m05s`.
pub fn human_ms(ms: i64) -> String {
    match ms {
        ..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{}m{:02}s", ms / 60_000, ms % 60_000 / 1000),
    }
}

//! Names: snake_case identifiers, singular forms, class names, slugs, and
//! deterministic ids (no randomness: same input, same bytes).

/// `Projects CRUD-API` → `projects_crud_api`.
pub fn snake(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_lower = false;
    for c in s.trim().chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && prev_lower && !out.ends_with('_') {
                out.push('_');
            }
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            out.push(c.to_ascii_lowercase());
        } else {
            prev_lower = false;
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// `projects` → `project`, `categories` → `category`, `boxes` → `box`;
/// words already singular (`status`, `analysis`) stay.
pub fn singular(plural: &str) -> String {
    let p = plural;
    if let Some(stem) = p.strip_suffix("ies").filter(|s| !s.is_empty()) {
        return format!("{stem}y");
    }
    for suffix in ["sses", "shes", "ches", "xes", "zes"] {
        if p.ends_with(suffix) {
            return p[..p.len() - 2].to_string();
        }
    }
    if p.ends_with("ss") || p.ends_with("us") || p.ends_with("is") || p.len() <= 3 {
        return p.to_string();
    }
    match p.strip_suffix('s') {
        Some(stem) => stem.to_string(),
        None => p.to_string(),
    }
}

/// `project_event` → `ProjectEvent`.
pub fn pascal(snake_name: &str) -> String {
    snake_name
        .split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut cs = w.chars();
            match cs.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + cs.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// `TaylorDash core!` → `taylordash-core`.
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// Title case of a snake name: `project_event` → `Project event`.
pub fn human(snake_name: &str) -> String {
    let words = snake_name.replace('_', " ");
    let mut cs = words.chars();
    match cs.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + cs.as_str(),
        None => String::new(),
    }
}

/// 64-bit FNV-1a.
pub fn fnv1a(bytes: &[u8], seed: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// 32 lowercase hex digits derived from `key` (a W3C trace id's shape).
pub fn hex32(key: &str) -> String {
    format!("{:016x}{:016x}", fnv1a(key.as_bytes(), 1), fnv1a(key.as_bytes(), 2))
}

/// A UUID (version 4 layout) derived from `key`: stable across runs.
pub fn uuid_for(key: &str) -> String {
    let h = hex32(key);
    let b = h.as_bytes();
    let s = |r: std::ops::Range<usize>| String::from_utf8_lossy(&b[r]).into_owned();
    // Version nibble 4, variant nibble 8..b.
    let variant = match b[16] {
        b'0'..=b'3' => '8',
        b'4'..=b'7' => '9',
        b'8' | b'9' | b'a' | b'b' => 'a',
        _ => 'b',
    };
    format!("{}-{}-4{}-{}{}-{}", s(0..8), s(8..12), s(13..16), variant, s(17..20), s(20..32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(snake("Projects CRUD-API"), "projects_crud_api");
        assert_eq!(snake("eventSchemas"), "event_schemas");
        assert_eq!(snake("  event-schemas "), "event_schemas");
        assert_eq!(singular("projects"), "project");
        assert_eq!(singular("categories"), "category");
        assert_eq!(singular("boxes"), "box");
        assert_eq!(singular("status"), "status");
        assert_eq!(singular("events"), "event");
        assert_eq!(singular("metrics"), "metric");
        assert_eq!(pascal("project_event"), "ProjectEvent");
        assert_eq!(slug("TaylorDash core!"), "taylordash-core");
        assert_eq!(human("project_event"), "Project event");
    }

    #[test]
    fn ids_are_stable_and_well_formed() {
        let u = uuid_for("project.created");
        assert_eq!(u, uuid_for("project.created"));
        assert_ne!(u, uuid_for("project.updated"));
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        let t = hex32("x");
        assert_eq!(t.len(), 32);
        assert!(t.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }
}

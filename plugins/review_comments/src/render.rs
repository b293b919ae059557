//! `review/enhanced_review_comments.md`:
//!
//! ```text
//! # Review of 1a2b3c4..5d6e7f8
//!
//! **Changes requested**: 1 blocking comment (security) of 4 comments on 2 changed files.
//!
//! ## app/main.py
//!
//! - `app/main.py:12` **library** `httpx` is new to this repository: Context7 `/encode/httpx`, docs in `docs/libraries/encode_httpx.md`
//! - `app/main.py:20` **security** (security_check) …
//!
//! ---
//! Checked: security_check, contract_compliance; coverage from reports/coverage.json; 3 gate findings outside the change not repeated.
//! ```
//!
//! One section per changed file with comments, in diff order; `**Approved**:
//! 0 blocking comments of …` when nothing blocks.

use crate::review::Review;

/// The whole Markdown document.
pub fn render(review: &Review) -> String {
    let mut md = format!("# Review of {}\n\n{}\n", review.range, headline(review));
    let mut current: Option<&str> = None;
    for c in &review.comments {
        if current != Some(c.file.as_str()) {
            md.push_str(&format!("\n## {}\n\n", c.file));
            current = Some(&c.file);
        }
        md.push_str(&format!("- `{}` **{}** {}\n", c.location(), c.kind.name(), c.text));
    }
    md.push_str(&format!("\n---\n{}\n", checked(review)));
    md
}

/// `**Changes requested**: 1 blocking comment (security) of 4 comments on 2 changed files.`
pub fn headline(review: &Review) -> String {
    let (verdict, rest) = headline_parts(review);
    format!("**{verdict}**: {rest}.")
}

/// The headline as plain text, for the log.
pub fn headline_text(review: &Review) -> String {
    let (verdict, rest) = headline_parts(review);
    format!("{}: {rest}", verdict.to_lowercase())
}

fn headline_parts(review: &Review) -> (&'static str, String) {
    let blocking = review.blocking();
    let of = format!(
        "of {} on {}",
        count(review.comments.len(), "comment", "comments"),
        count(review.changed_files, "changed file", "changed files")
    );
    if blocking > 0 {
        ("Changes requested", format!("{} (security) {of}", count(blocking, "blocking comment", "blocking comments")))
    } else {
        ("Approved", format!("0 blocking comments {of}"))
    }
}

/// `Checked: security_check, contract_compliance; coverage from reports/coverage.json; 3 gate findings outside the change not repeated.`
pub fn checked(review: &Review) -> String {
    let gates = if review.gates.is_empty() { "no gate verdicts".to_string() } else { review.gates.join(", ") };
    let mut clauses = vec![gates, review.coverage_note.clone()];
    if review.outside > 0 {
        clauses.push(format!(
            "{} outside the change not repeated",
            count(review.outside, "gate finding", "gate findings")
        ));
    }
    format!("Checked: {}.", clauses.join("; "))
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

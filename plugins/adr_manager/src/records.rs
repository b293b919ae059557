//! What `adr_manager` does beside its `Input`, `Output` and `impl Tool` (in `lib.rs`).

use super::*;

pub(crate) fn name_of(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

pub fn manage(adrs: &[Adr]) -> (Vec<Record>, Vec<Finding>) {
    let mut problems = Vec::new();
    let mut by_number: BTreeMap<u32, &Adr> = BTreeMap::new();
    for a in adrs {
        for (line, m) in &a.problems {
            problems.push(Finding::new(&a.file, format!("{line}:1"), m.clone()));
        }
        if let Some(first) = by_number.get(&a.number) {
            problems.push(Finding::new(&a.file, "1:1", format!("number {:04} is also {}", a.number, first.file)));
        } else {
            by_number.insert(a.number, a);
        }
    }
    let mut superseded_by: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for a in adrs {
        let line = supersedes_line(a);
        for s in &a.supersedes {
            if *s == a.number {
                problems.push(Finding::new(&a.file, format!("{line}:1"), format!("supersedes itself ({s:04})")));
            } else if !by_number.contains_key(s) {
                problems.push(Finding::new(&a.file, format!("{line}:1"), format!("supersedes {s:04}, which does not exist")));
            } else if a.status != "rejected" {
                superseded_by.entry(*s).or_default().push(a.number);
            }
        }
    }
    // A cycle (0003 supersedes 0004 supersedes 0003) leaves no decision standing.
    for a in adrs {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<u32> = a.supersedes.clone();
        while let Some(n) = stack.pop() {
            if n == a.number && !a.supersedes.contains(&a.number) {
                problems.push(Finding::new(&a.file, format!("{}:1", supersedes_line(a)), "supersedes cycle back to this record".to_string()));
                break;
            }
            if seen.insert(n)
                && let Some(b) = by_number.get(&n)
            {
                stack.extend(b.supersedes.iter().copied());
            }
        }
    }
    let records = adrs
        .iter()
        .map(|a| {
            let by = superseded_by.get(&a.number).cloned().unwrap_or_default();
            let effective = if by.is_empty() {
                if a.status.is_empty() { "unknown".to_string() } else { a.status.clone() }
            } else {
                format!("superseded by {}", by.iter().map(|n| format!("{n:04}")).collect::<Vec<_>>().join(", "))
            };
            Record {
                number: a.number,
                file: a.file.clone(),
                title: a.title.clone(),
                status: a.status.clone(),
                effective_status: effective,
                item: a.item.clone(),
                supersedes: a.supersedes.clone(),
                superseded_by: by,
            }
        })
        .collect();
    problems.sort();
    problems.dedup();
    (records, problems)
}

pub(crate) fn supersedes_line(a: &Adr) -> usize {
    a.supersedes_line
}

pub(crate) fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn index_md(records: &[Record], problems: &[Finding]) -> String {
    let link = |n: u32| {
        records
            .iter()
            .find(|r| r.number == n)
            .map(|r| format!("[{n:04}]({})", name_of(&r.file)))
            .unwrap_or_else(|| format!("{n:04}"))
    };
    let mut md = String::from("# Architecture decision records\n\n");
    if records.is_empty() {
        md.push_str("No decisions recorded yet.\n");
        return md;
    }
    let accepted = records.iter().filter(|r| r.effective_status == "accepted").count();
    let superseded = records.iter().filter(|r| !r.superseded_by.is_empty()).count();
    md.push_str(&format!(
        "{} records: {accepted} accepted, {superseded} superseded. Records are never edited: a changed decision is a new \
         record that supersedes the old one, and this index (written by `adr_manager`) shows the effect.\n\n",
        records.len()
    ));
    md.push_str("| ADR | Decision | Status | Backlog item | Supersedes |\n|---|---|---|---|---|\n");
    for r in records {
        let status = if r.superseded_by.is_empty() {
            cell(&r.effective_status)
        } else {
            format!("superseded by {}", r.superseded_by.iter().map(|n| link(*n)).collect::<Vec<_>>().join(", "))
        };
        md.push_str(&format!(
            "| [{:04}]({}) | {} | {} | {} | {} |\n",
            r.number,
            name_of(&r.file),
            cell(if r.title.is_empty() { "(untitled)" } else { &r.title }),
            status,
            r.item.as_deref().map(|i| format!("`{i}`")).unwrap_or_default(),
            r.supersedes.iter().map(|n| link(*n)).collect::<Vec<_>>().join(", "),
        ));
    }
    if !problems.is_empty() {
        md.push_str("\n## Problems\n\n");
        for p in problems {
            md.push_str(&format!("* `{}` line {}: {}\n", name_of(&p.file), p.location.split(':').next().unwrap_or(""), p.message));
        }
    }
    md
}

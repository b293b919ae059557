//! MADR decision records as `adr_writer` writes them and `adr_manager`
//! indexes them: `docs/adr/NNNN-title.md`, YAML front matter (`status`,
//! `decision-makers`, `backlog-item`, `supersedes`), a `# Title`.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model::paths;
use crate::source;

/// The statuses MADR knows (`superseded by …` is derived, see `adr_manager`).
pub const STATUSES: [&str; 5] = ["proposed", "accepted", "rejected", "deprecated", "superseded"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adr {
    pub number: u32,
    /// Workspace-relative path.
    pub file: String,
    pub title: String,
    /// As written in the front matter (`accepted`, `superseded by …`).
    pub status: String,
    pub item: Option<String>,
    pub supersedes: Vec<u32>,
    /// The line of `supersedes:` (1 when there is none).
    pub supersedes_line: usize,
    /// What is wrong with the file: `(line, message)`.
    pub problems: Vec<(usize, String)>,
}

/// `0007-some-title.md` → 7.
pub fn number_of(file_name: &str) -> Option<u32> {
    let (digits, rest) = file_name.split_at(file_name.find(|c: char| !c.is_ascii_digit())?);
    if digits.len() != 4 || !rest.starts_with('-') || !rest.ends_with(".md") {
        return None;
    }
    digits.parse().ok()
}

/// `0002`, `2`, `"0002-title.md"`, `[1, "0003"]` → numbers.
fn numbers(v: &Value) -> Result<Vec<u32>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()).map(|n| vec![n]).ok_or_else(|| format!("`{n}` is not an ADR number")),
        Value::String(s) => {
            let digits: String = s.trim_start_matches("ADR-").chars().take_while(|c| c.is_ascii_digit()).collect();
            digits.parse().map(|n| vec![n]).map_err(|_| format!("`{s}` is not an ADR number"))
        }
        Value::Array(items) => {
            let mut out = Vec::new();
            for i in items {
                out.extend(numbers(i)?);
            }
            Ok(out)
        }
        other => Err(format!("{} is not an ADR number", source::kind(other))),
    }
}

/// Parse one ADR file's text.
pub fn parse(file: &str, text: &str) -> Adr {
    let name = file.rsplit('/').next().unwrap_or(file);
    let mut adr = Adr {
        number: number_of(name).unwrap_or(0),
        file: file.to_string(),
        title: String::new(),
        status: String::new(),
        item: None,
        supersedes: Vec::new(),
        supersedes_line: 1,
        problems: Vec::new(),
    };
    let mut body_start = 0;
    let lines: Vec<&str> = text.lines().collect();
    if lines.first() == Some(&"---") {
        match lines.iter().skip(1).position(|l| *l == "---") {
            Some(end) => {
                let yaml = lines[1..=end].join("\n");
                body_start = end + 2;
                match serde_yaml_ng::from_str::<BTreeMap<String, Value>>(&yaml) {
                    Ok(front) => {
                        let line_of = |key: &str| {
                            lines.iter().position(|l| l.starts_with(&format!("{key}:"))).map(|i| i + 1).unwrap_or(1)
                        };
                        match front.get("status") {
                            Some(Value::String(s)) => adr.status = s.trim().to_string(),
                            Some(_) => adr.problems.push((line_of("status"), "status must be text".into())),
                            None => adr.problems.push((1, "the front matter has no status".into())),
                        }
                        if let Some(Value::String(item)) = front.get("backlog-item") {
                            adr.item = Some(item.clone());
                        }
                        if let Some(v) = front.get("supersedes") {
                            adr.supersedes_line = line_of("supersedes");
                            match numbers(v) {
                                Ok(n) => adr.supersedes = n,
                                Err(e) => adr.problems.push((line_of("supersedes"), format!("supersedes: {e}"))),
                            }
                        }
                    }
                    Err(e) => {
                        let line = e.location().map(|l| l.line() + 1).unwrap_or(1);
                        adr.problems.push((line, format!("front matter is not YAML: {e}")));
                    }
                }
            }
            None => adr.problems.push((1, "front matter opened with `---` is never closed".into())),
        }
    } else {
        // MADR also allows `Status: accepted` lines in the body.
        if let Some(l) = lines.iter().find(|l| l.to_ascii_lowercase().starts_with("status:")) {
            adr.status = l[7..].trim().to_string();
        } else {
            adr.problems.push((1, "no status (front matter `status:` or a `Status:` line)".into()));
        }
    }
    match lines.iter().enumerate().skip(body_start).find(|(_, l)| l.starts_with("# ")) {
        Some((_, l)) => adr.title = l[2..].trim().to_string(),
        None => adr.problems.push((body_start + 1, "no `# Title` heading".into())),
    }
    let base = adr.status.split_whitespace().next().unwrap_or("").to_ascii_lowercase();
    if !adr.status.is_empty() && !STATUSES.contains(&base.as_str()) {
        adr.problems.push((1, format!("status `{}` is not one of {}", adr.status, STATUSES.join(", "))));
    }
    adr
}

/// Every `NNNN-*.md` under `docs/adr/` of the workspace, by number.
pub fn read_all() -> Vec<Adr> {
    let mut out: Vec<Adr> = source::list_files(paths::ADR_DIR, &[".md"])
        .into_iter()
        .filter(|f| f.matches('/').count() == 2 && number_of(f.rsplit('/').next().unwrap_or("")).is_some())
        .filter_map(|f| source::read_workspace("adr", &f).ok().map(|text| parse(&f, &text)))
        .collect();
    out.sort_by(|a, b| (a.number, &a.file).cmp(&(b.number, &b.file)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_front_matter_and_title() {
        let a = parse(
            "docs/adr/0003-use-x.md",
            "---\nstatus: accepted\nbacklog-item: events-endpoint\nsupersedes: \"0002\"\n---\n\n# Use X\n\nBody\n",
        );
        assert_eq!((a.number, a.title.as_str(), a.status.as_str()), (3, "Use X", "accepted"));
        assert_eq!(a.item.as_deref(), Some("events-endpoint"));
        assert_eq!(a.supersedes, [2]);
        assert!(a.problems.is_empty());
        let b = parse("docs/adr/0004-y.md", "---\nstatus: maybe\nsupersedes: [x]\n---\nno title\n");
        assert_eq!(
            b.problems,
            [
                (3, "supersedes: `x` is not an ADR number".to_string()),
                (5, "no `# Title` heading".to_string()),
                (1, "status `maybe` is not one of proposed, accepted, rejected, deprecated, superseded".to_string()),
            ]
        );
        let c = parse("docs/adr/0005-z.md", "# Z\n\nStatus: superseded by ADR-0006\n");
        assert_eq!(c.status, "superseded by ADR-0006");
        assert_eq!(number_of("0012-a.md"), Some(12));
        assert_eq!(number_of("12-a.md"), None);
        assert_eq!(number_of("index.md"), None);
    }
}

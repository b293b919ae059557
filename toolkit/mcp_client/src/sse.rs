//! The `text/event-stream` format (the WHATWG "server-sent events"
//! grammar) as far as MCP needs it: the `data` of each event.

/// The data of every event in `text`, in order: an event's `data:` lines
/// joined with `\n`; events without data are skipped. Lines end in `\n`,
/// `\r\n` or `\r`; a line starting with `:` is a comment; one space after
/// the field's colon is dropped; `event`, `id` and `retry` are ignored. An
/// event the stream ends in without a blank line still counts.
pub fn data_events(text: &str) -> Vec<String> {
    let mut events = Vec::new();
    let mut data: Option<String> = None;
    for line in lines(text) {
        if line.is_empty() {
            if let Some(d) = data.take() {
                events.push(d);
            }
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        if field == "data" {
            match &mut data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => data = Some(value.to_string()),
            }
        }
    }
    if let Some(d) = data {
        events.push(d);
    }
    events
}

/// Split on `\r\n`, `\n` or a lone `\r`.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.find(['\r', '\n']) {
            Some(i) => {
                let line = &rest[..i];
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[i + skip..];
                Some(line)
            }
            None => {
                let line = rest;
                rest = "";
                Some(line)
            }
        }
    })
}

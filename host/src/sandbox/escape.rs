//! Guest text on its way to a terminal: control characters are shown, never
//! obeyed, so a plugin cannot move the cursor, recolour or retitle the
//! operator's terminal, or forge a log line with an embedded newline.

/// `text` with every control character (C0, DEL, C1) written as `\u{..}`.
pub fn for_terminal(text: &str) -> String {
    if !text.chars().any(is_unsafe) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::for_terminal;

    #[test]
    fn ansi_sequences_and_newlines_are_shown_not_obeyed() {
        assert_eq!(for_terminal("plain"), "plain");
        assert_eq!(for_terminal("\x1b[31mred\x1b[0m"), "\\u{1b}[31mred\\u{1b}[0m");
        assert_eq!(for_terminal("a\nINFO forged"), "a\\u{a}INFO forged");
        assert_eq!(for_terminal("\u{9b}2J"), "\\u{9b}2J");
        assert_eq!(for_terminal("abc\u{202e}def"), "abc\\u{202e}def");
    }
}

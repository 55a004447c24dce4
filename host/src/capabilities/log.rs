//! The `log` capability: a plugin's log lines enter the host's `tracing` with its
//! instance and plugin as fields, bounded in count (per call) and length, and with
//! every control character escaped, so a plugin cannot forge log lines (`\n` followed
//! by a fake record) or rewrite a terminal line (`\r`, escape sequences), nor break
//! a line for readers that treat U+2028/U+2029 as line ends, nor reorder what a
//! terminal shows with bidirectional controls (the "Trojan Source" characters).

/// Longest plugin log message kept, in bytes; longer ones end in `…`.
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// Characters that are not controls to Rust but still break or reorder a line:
/// line and paragraph separators, and the bidirectional embeddings, overrides and
/// isolates (U+202A–U+202E, U+2066–U+2069), plus the implicit marks.
fn line_breaking_or_reordering(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Whether [`sanitize`] escapes `c`: controls, line separators and bidirectional
/// controls.
pub fn is_escaped(c: char) -> bool {
    c.is_control() || line_breaking_or_reordering(c)
}

/// `message` cut to [`MAX_MESSAGE_BYTES`] and with control characters escaped
/// (`\n` → `\\n`, `\r` → `\\r`, `\t` → `\\t`, others → `\u{…}`), line separators and
/// bidirectional controls included.
pub fn sanitize(message: &str) -> String {
    let mut cut = message.len().min(MAX_MESSAGE_BYTES);
    while !message.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = String::with_capacity(cut + 8);
    for c in message[..cut].chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_escaped(c) => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    if cut < message.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_long_messages_cut() {
        assert_eq!(
            sanitize("a\nERROR forged\r\u{1b}[2Kx\tb"),
            "a\\nERROR forged\\r\\u{1b}[2Kx\\tb"
        );
        assert_eq!(
            sanitize("ok\u{2028}ERROR forged\u{2029}"),
            "ok\\u{2028}ERROR forged\\u{2029}"
        );
        assert_eq!(
            sanitize("user \u{202e}nimda\u{202c} \u{2066}x\u{2069}"),
            "user \\u{202e}nimda\\u{202c} \\u{2066}x\\u{2069}"
        );
        assert_eq!(sanitize("Zoë → ok"), "Zoë → ok");
        let long = "é".repeat(MAX_MESSAGE_BYTES);
        let cut = sanitize(&long);
        assert!(cut.ends_with('…') && cut.len() <= MAX_MESSAGE_BYTES + '…'.len_utf8());
    }
}

//! The `log` capability: a plugin's log lines enter the host's `tracing` with its
//! instance and plugin as fields, bounded in count (per call) and length, and with
//! every control character escaped, so a plugin cannot forge log lines (`\n` followed
//! by a fake record) or rewrite a terminal line (`\r`, escape sequences).

/// Longest plugin log message kept, in bytes; longer ones end in `…`.
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// `message` cut to [`MAX_MESSAGE_BYTES`] and with control characters escaped
/// (`\n` → `\\n`, `\r` → `\\r`, `\t` → `\\t`, others → `\u{…}`).
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
            c if c.is_control() => out.push_str(&c.escape_unicode().to_string()),
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
        let long = "é".repeat(MAX_MESSAGE_BYTES);
        let cut = sanitize(&long);
        assert!(cut.ends_with('…') && cut.len() <= MAX_MESSAGE_BYTES + '…'.len_utf8());
    }
}

//! The classifiers: a candidate regex each, and the validation a candidate must pass to
//! count as a match.
//!
//! Regexes only find candidates cheaply (Rust's `regex` is linear in the input, so no
//! input can make a scan backtrack); what makes a candidate a match is the check after
//! it: a checksum (Luhn, mod-97, CRC32), a table (card prefixes, IBAN lengths, SSN
//! ranges), a decode (JWT headers) or a neighbour (AWS secrets near a key id). Every
//! candidate is bounded in length by its regex, so a match always fits in the scanner's
//! look-ahead window ([`MAX_MATCH`]).

use base64::Engine as _;
use regex::bytes::Regex;
use serde::{Deserialize, Serialize};

/// Longest span a built-in match may cover (a PEM private key with its body). The
/// scanner keeps this much look-ahead so no match is cut by a chunk boundary; operator
/// regexes are held to it as well.
pub(crate) const MAX_MATCH: usize = 12 * 1024;

/// A built-in classifier, named in config and in results by its kebab-case name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Builtin {
    /// Payment card numbers: 13–19 digits, known issuer prefix and length, Luhn.
    Card,
    /// International bank account numbers: country length table and mod-97.
    Iban,
    /// US social security numbers in valid ranges (dashed, or bare next to "SSN").
    Ssn,
    /// Email addresses, reported only in bulk (at least `email_min_distinct`).
    Email,
    /// AWS access key ids (`AKIA`/`ASIA` and 16 base32 characters).
    AwsAccessKeyId,
    /// AWS secret access keys (40 characters) within 256 bytes of an access key id.
    AwsSecretAccessKey,
    /// GitHub tokens: `ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_` with a valid CRC32, and
    /// fine-grained `github_pat_` tokens.
    GithubToken,
    /// Slack tokens (`xoxb-`, `xoxp-`, `xoxa-`, `xoxr-`, `xoxe-`, `xapp-`).
    SlackToken,
    /// PEM and OpenSSH private key blocks.
    PrivateKey,
    /// JSON Web Tokens whose header decodes to JSON with an `alg`.
    Jwt,
}

impl Builtin {
    /// Every built-in, in the order hits are reported.
    pub const ALL: [Builtin; 10] = [
        Builtin::Card,
        Builtin::Iban,
        Builtin::Ssn,
        Builtin::Email,
        Builtin::AwsAccessKeyId,
        Builtin::AwsSecretAccessKey,
        Builtin::GithubToken,
        Builtin::SlackToken,
        Builtin::PrivateKey,
        Builtin::Jwt,
    ];

    /// Candidates with no literal to search for: found together in one pass (see
    /// [`crate::scan::SharedPass`]).
    pub(crate) fn shares_pass(self) -> bool {
        matches!(
            self,
            Builtin::Card
                | Builtin::Iban
                | Builtin::Ssn
                | Builtin::Email
                | Builtin::AwsSecretAccessKey
        )
    }

    /// Whether a candidate can start with byte `b` (for the shared pass: a member is
    /// not run where it cannot match).
    pub(crate) fn can_start(self, b: u8) -> bool {
        match self {
            Builtin::Card | Builtin::Ssn => b.is_ascii_digit(),
            Builtin::Iban => b.is_ascii_uppercase(),
            Builtin::Email => b.is_ascii_alphanumeric() || b"._%+-".contains(&b),
            Builtin::AwsSecretAccessKey => b.is_ascii_alphanumeric() || b == b'/' || b == b'+',
            _ => true,
        }
    }

    /// The name used in config and in [`crate::Hit::classifier`].
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Card => "card",
            Builtin::Iban => "iban",
            Builtin::Ssn => "ssn",
            Builtin::Email => "email",
            Builtin::AwsAccessKeyId => "aws-access-key-id",
            Builtin::AwsSecretAccessKey => "aws-secret-access-key",
            Builtin::GithubToken => "github-token",
            Builtin::SlackToken => "slack-token",
            Builtin::PrivateKey => "private-key",
            Builtin::Jwt => "jwt",
        }
    }

    pub(crate) fn pattern(self) -> &'static str {
        match self {
            // Digits with optional single space/dash separators; grouping is checked after.
            Builtin::Card => r"[0-9](?:[ -]?[0-9]){12,18}",
            Builtin::Iban => r"[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,32}",
            Builtin::Ssn => r"[0-9]{3}-[0-9]{2}-[0-9]{4}|[0-9]{9}",
            Builtin::Email => {
                r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}"
            }
            Builtin::AwsAccessKeyId => r"(?:AKIA|ASIA)[A-Z2-7]{16}",
            Builtin::AwsSecretAccessKey => r"[A-Za-z0-9/+]{40}",
            Builtin::GithubToken => {
                r"gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}"
            }
            Builtin::SlackToken => {
                r"(?:xox[bpar]|xoxe(?:\.xox[bp])?)-[0-9A-Za-z]{1,40}(?:-[0-9A-Za-z]{1,80}){1,5}|xapp-[0-9]{1,4}-[A-Z0-9]{6,20}-[0-9]{6,20}-[0-9a-f]{20,80}"
            }
            Builtin::PrivateKey => {
                r"-----BEGIN (?:(?:RSA|DSA|EC|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY(?: BLOCK)?-----"
            }
            Builtin::Jwt => {
                r"eyJ[A-Za-z0-9_-]{4,1500}\.[A-Za-z0-9_-]{2,6000}\.[A-Za-z0-9_-]{0,1500}"
            }
        }
    }
}

/// What a classifier is: a built-in with its validation, or an operator's rule (a
/// keyword list or regex whose every match counts).
#[derive(Clone, Debug)]
pub(crate) enum Kind {
    Builtin(Builtin),
    Operator,
}

/// One compiled classifier.
#[derive(Clone, Debug)]
pub(crate) struct Classifier {
    /// Reported as [`crate::Hit::classifier`] and shown in redactions.
    pub name: String,
    pub kind: Kind,
    /// Finds candidates; validation decides.
    pub regex: Regex,
}

impl Classifier {
    pub fn builtin(builtin: Builtin) -> Classifier {
        Classifier {
            name: builtin.name().to_owned(),
            kind: Kind::Builtin(builtin),
            regex: Regex::new(builtin.pattern()).expect("built-in patterns compile"),
        }
    }

    /// Validates a candidate at `start..end` of `hay` (which holds context on both
    /// sides) and returns the span that matches, which may be narrower (a card followed
    /// by another digit group) or wider (a private key's body).
    pub fn validate(&self, hay: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
        let Kind::Builtin(builtin) = self.kind else {
            return Some((start, end));
        };
        match builtin {
            Builtin::Card => card(hay, start, end),
            Builtin::Iban => iban(hay, start, end),
            Builtin::Ssn => ssn(hay, start, end).then_some((start, end)),
            Builtin::Email => email(hay, start, end),
            Builtin::AwsAccessKeyId => isolated(hay, start, end, is_alnum).then_some((start, end)),
            Builtin::AwsSecretAccessKey => aws_secret(hay, start, end).then_some((start, end)),
            Builtin::GithubToken => github_token(hay, start, end).then_some((start, end)),
            Builtin::SlackToken => {
                isolated(hay, start, end, |b| is_alnum(b) || b == b'-').then_some((start, end))
            }
            Builtin::PrivateKey => private_key(hay, start, end),
            Builtin::Jwt => jwt(hay, start, end).then_some((start, end)),
        }
    }

    /// How a match is shown in a snippet: `[name]`, or for a card `[card …1234]` (the
    /// last four digits, as printed on receipts).
    pub fn redaction(&self, matched: &[u8]) -> String {
        if let Kind::Builtin(Builtin::Card) = self.kind {
            let digits: Vec<u8> = matched.iter().copied().filter(u8::is_ascii_digit).collect();
            let last4 = &digits[digits.len().saturating_sub(4)..];
            return format!("[{} …{}]", self.name, String::from_utf8_lossy(last4));
        }
        format!("[{}]", self.name)
    }
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// True when the bytes either side of `start..end` are not `part_of_token`, i.e. the
/// candidate is a whole token, not a slice of a longer one.
fn isolated(hay: &[u8], start: usize, end: usize, part_of_token: impl Fn(u8) -> bool) -> bool {
    let before = start.checked_sub(1).map(|i| hay[i]);
    let after = hay.get(end).copied();
    !before.is_some_and(&part_of_token) && !after.is_some_and(&part_of_token)
}

/// Luhn (mod 10) over ASCII digits, the rightmost being the check digit.
pub(crate) fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// Issuer identification: known prefixes and the lengths each network issues.
fn card_issuer_ok(digits: &[u8]) -> bool {
    let len = digits.len();
    let prefix = |n: usize| -> u32 {
        digits[..n]
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    let (p1, p2, p3, p4) = (prefix(1), prefix(2), prefix(3), prefix(4));
    match p1 {
        // Visa
        4 => matches!(len, 13 | 16 | 19),
        // Mastercard 51–55 and 2221–2720; Mir 2200–2204
        5 if (51..=55).contains(&p2) => len == 16,
        2 if (2221..=2720).contains(&p4) => len == 16,
        2 if (2200..=2204).contains(&p4) => (16..=19).contains(&len),
        // Amex 34/37; Diners 300–305, 36, 38, 39; JCB 3528–3589
        3 if p2 == 34 || p2 == 37 => len == 15,
        3 if (300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39 => {
            (14..=19).contains(&len)
        }
        3 if (3528..=3589).contains(&p4) => (16..=19).contains(&len),
        // Discover 6011, 644–649, 65; UnionPay 62; Maestro 50, 56–69 (incl. 6304, 6759)
        6 if p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 => (16..=19).contains(&len),
        6 if p2 == 62 => (16..=19).contains(&len),
        5 if p2 == 50 || (56..=59).contains(&p2) => (13..=19).contains(&len),
        6 if (60..=69).contains(&p2) => (13..=19).contains(&len),
        _ => false,
    }
}

/// A card candidate: either an unbroken digit run, or groups separated by one kind of
/// separator laid out as cards are printed (4-4-4-4[-3], 4-6-5, 4-6-4). When the whole
/// candidate fails, shorter prefixes ending at a group boundary are tried, so a card
/// followed by another number ("4111 1111 1111 1111 2029") is still found.
fn card(hay: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    // Not part of a word, nor the fraction of a decimal ("3.4111…", "3,4111…").
    let prev = start.checked_sub(1).map(|i| hay[i]);
    let decimal_point =
        |b: u8| (b == b'.' || b == b',') && start >= 2 && hay[start - 2].is_ascii_digit();
    if prev.is_some_and(|b| is_alnum(b) || decimal_point(b)) {
        return None;
    }
    // A digit right before a separator right before us: we are inside a longer run.
    if start >= 2 && matches!(hay[start - 1], b' ' | b'-') && hay[start - 2].is_ascii_digit() {
        return None;
    }
    let cand = &hay[start..end];
    let sep = cand.iter().copied().find(|b| !b.is_ascii_digit());
    let Some(sep) = sep else {
        let next = hay.get(end).copied();
        if next.is_some_and(|b| {
            is_alnum(b) || b == b'.' && hay.get(end + 1).is_some_and(u8::is_ascii_digit)
        }) {
            return None;
        }
        return (card_issuer_ok(cand) && luhn(cand)).then_some((start, end));
    };
    if cand.iter().any(|&b| !b.is_ascii_digit() && b != sep) {
        return None;
    }
    let groups: Vec<&[u8]> = cand.split(|&b| b == sep).collect();
    // Try the whole candidate, then shorter prefixes of whole groups.
    for take in (2..=groups.len()).rev() {
        let lens: Vec<usize> = groups[..take].iter().map(|g| g.len()).collect();
        let layout_ok = match lens.as_slice() {
            [4, 6, 5] | [4, 6, 4] => true,
            [4, 4, 4, last] | [4, 4, 4, 4, last] => (1..=4).contains(last),
            _ => false,
        };
        if !layout_ok {
            continue;
        }
        let span_len: usize = lens.iter().sum::<usize>() + take - 1;
        let span_end = start + span_len;
        // The last group must be whole: the candidate regex stops at 19 digits, so a
        // longer final group would have been cut.
        if hay.get(span_end).is_some_and(u8::is_ascii_alphanumeric) {
            continue;
        }
        let digits: Vec<u8> = groups[..take].concat();
        if card_issuer_ok(&digits) && luhn(&digits) {
            return Some((start, span_end));
        }
    }
    None
}

/// IBAN length per country (ISO 13616 registry).
fn iban_length(country: &[u8]) -> Option<usize> {
    Some(match country {
        b"AD" => 24,
        b"AE" => 23,
        b"AL" => 28,
        b"AT" => 20,
        b"AZ" => 28,
        b"BA" => 20,
        b"BE" => 16,
        b"BG" => 22,
        b"BH" => 22,
        b"BR" => 29,
        b"BY" => 28,
        b"CH" => 21,
        b"CR" => 22,
        b"CY" => 28,
        b"CZ" => 24,
        b"DE" => 22,
        b"DK" => 18,
        b"DO" => 28,
        b"EE" => 20,
        b"EG" => 29,
        b"ES" => 24,
        b"FI" => 18,
        b"FO" => 18,
        b"FR" => 27,
        b"GB" => 22,
        b"GE" => 22,
        b"GI" => 23,
        b"GL" => 18,
        b"GR" => 27,
        b"GT" => 28,
        b"HR" => 21,
        b"HU" => 28,
        b"IE" => 22,
        b"IL" => 23,
        b"IQ" => 23,
        b"IS" => 26,
        b"IT" => 27,
        b"JO" => 30,
        b"KW" => 30,
        b"KZ" => 20,
        b"LB" => 28,
        b"LC" => 32,
        b"LI" => 21,
        b"LT" => 20,
        b"LU" => 20,
        b"LV" => 21,
        b"LY" => 25,
        b"MC" => 27,
        b"MD" => 24,
        b"ME" => 22,
        b"MK" => 19,
        b"MR" => 27,
        b"MT" => 31,
        b"MU" => 30,
        b"NL" => 18,
        b"NO" => 15,
        b"PK" => 24,
        b"PL" => 28,
        b"PS" => 29,
        b"PT" => 25,
        b"QA" => 29,
        b"RO" => 24,
        b"RS" => 22,
        b"SA" => 24,
        b"SC" => 31,
        b"SD" => 18,
        b"SE" => 24,
        b"SI" => 19,
        b"SK" => 24,
        b"SM" => 27,
        b"ST" => 25,
        b"SV" => 28,
        b"TL" => 23,
        b"TN" => 24,
        b"TR" => 26,
        b"UA" => 29,
        b"VA" => 22,
        b"VG" => 24,
        b"XK" => 20,
        _ => return None,
    })
}

/// ISO 7064 mod 97-10 over an IBAN: the first four characters moved to the end, letters
/// as 10–35; valid when the remainder is 1.
pub(crate) fn iban_mod97(iban: &[u8]) -> bool {
    let rotated = iban[4..].iter().chain(&iban[..4]);
    let mut rem = 0u32;
    for &c in rotated {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// An IBAN candidate is cut to its country's length (spaces allowed only between
/// groups of four); the character after it must not continue the token.
fn iban(hay: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    if start > 0 && is_alnum(hay[start - 1]) {
        return None;
    }
    let len = iban_length(&hay[start..start + 2])?;
    let mut compact = Vec::with_capacity(len);
    let mut i = start;
    while i < end && compact.len() < len {
        let b = hay[i];
        if b == b' ' {
            // Print format: a space after every fourth character only.
            if compact.len() % 4 != 0 {
                return None;
            }
        } else {
            compact.push(b);
        }
        i += 1;
    }
    if compact.len() != len || hay.get(i).is_some_and(|&b| is_alnum(b)) {
        return None;
    }
    iban_mod97(&compact).then_some((start, i))
}

/// US SSN: area not 000, 666 or 900–999; group not 00; serial not 0000; and not the
/// two numbers printed in advertising (078-05-1120, 219-09-9999). Dashed numbers
/// always count; nine bare digits count only when "SSN" or "social security" is within
/// the 40 bytes before them (nine-digit runs are everywhere: ids, phone numbers).
fn ssn(hay: &[u8], start: usize, end: usize) -> bool {
    let token = |b: u8| is_alnum(b) || b == b'-';
    if !isolated(hay, start, end, token) {
        return false;
    }
    let digits: Vec<u8> = hay[start..end]
        .iter()
        .copied()
        .filter(u8::is_ascii_digit)
        .collect();
    if end - start == 9 {
        let from = start.saturating_sub(40);
        let before = hay[from..start].to_ascii_lowercase();
        let near = |k: &[u8]| memchr::memmem::find(&before, k).is_some();
        if !(near(b"ssn") || near(b"social security") || near(b"soc sec")) {
            return false;
        }
    }
    let area = &digits[..3];
    let group = &digits[3..5];
    let serial = &digits[5..];
    if area == b"000" || area == b"666" || area[0] == b'9' {
        return false;
    }
    if group == b"00" || serial == b"0000" {
        return false;
    }
    !matches!(digits.as_slice(), b"078051120" | b"219099999")
}

/// One address per match; the bulk threshold is applied by the scanner. The domain must
/// end in a letters-only label of two or more (a TLD).
fn email(hay: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    if start > 0 && (is_alnum(hay[start - 1]) || b"._%+-".contains(&hay[start - 1])) {
        return None;
    }
    let cand = &hay[start..end];
    let tld_start = cand.iter().rposition(|&b| b == b'.')? + 1;
    let tld = &cand[tld_start..];
    if tld.len() < 2 || !tld.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    let at = cand.iter().position(|&b| b == b'@')?;
    if tld_start <= at + 2 {
        return None;
    }
    Some((start, end))
}

/// An access key id (`AKIA`/`ASIA` and 16 base32 characters) within 256 bytes.
fn aws_key_id_near(hay: &[u8], start: usize, end: usize) -> bool {
    let from = start.saturating_sub(256);
    let to = (end + 256).min(hay.len());
    let window = &hay[from..to];
    for prefix in [&b"AKIA"[..], b"ASIA"] {
        for at in memchr::memmem::find_iter(window, prefix) {
            let id = &window[at..];
            if id.len() >= 20
                && id[4..20]
                    .iter()
                    .all(|&b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
            {
                return true;
            }
        }
    }
    false
}

/// A secret access key is 40 characters of base64 (without `=`) standing alone, mixing
/// cases and digits, with an access key id within 256 bytes either side: forty
/// base64 characters alone are far too common (hashes, blobs) to report.
fn aws_secret(hay: &[u8], start: usize, end: usize) -> bool {
    // `=` may come before (`key=…`), not after (base64 padding: a longer value).
    let base64 = |b: u8| is_alnum(b) || b == b'/' || b == b'+';
    let before = start.checked_sub(1).map(|i| hay[i]);
    let after = hay.get(end).copied();
    if before.is_some_and(base64) || after.is_some_and(|b| base64(b) || b == b'=') {
        return false;
    }
    let s = &hay[start..end];
    let has = |f: fn(&u8) -> bool| s.iter().any(f);
    if !(has(u8::is_ascii_uppercase) && has(u8::is_ascii_lowercase) && has(u8::is_ascii_digit)) {
        return false;
    }
    aws_key_id_near(hay, start, end)
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Base62 (0-9, A-Z, a-z) of `value`, zero-padded to six characters: the checksum
/// GitHub appends to its tokens.
pub(crate) fn base62_6(mut value: u32) -> [u8; 6] {
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    out
}

/// `gh?_` tokens end in the CRC32 of their 30 random characters, base62-encoded: a
/// random 36-character string passes by chance about once in 57 billion.
/// Fine-grained `github_pat_` tokens carry no public checksum; their fixed layout
/// (22 + `_` + 59) is what is checked.
fn github_token(hay: &[u8], start: usize, end: usize) -> bool {
    if !isolated(hay, start, end, |b| is_alnum(b) || b == b'_') {
        return false;
    }
    let token = &hay[start..end];
    if token.starts_with(b"github_pat_") {
        return true;
    }
    let body = &token[4..];
    let (random, check) = body.split_at(30);
    base62_6(crc32fast::hash(random)) == check
}

/// A private key header counts when a body follows it (optional `Key: value` lines,
/// then at least 64 base64 characters). The returned span runs through the `END` line
/// (or the end of the body), so the key material is never shown as context.
fn private_key(hay: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let limit = (start + MAX_MATCH).min(hay.len());
    let mut i = end;
    let mut body = 0usize;
    while i < limit {
        let b = hay[i];
        if b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=' {
            body += 1;
        } else if b == b'-' {
            break;
        } else if b == b':' && body < 128 {
            // A PEM header line (`Proc-Type: 4,ENCRYPTED`): not body.
            body = 0;
        } else if !b.is_ascii_whitespace() && b != b',' {
            break;
        }
        i += 1;
    }
    if body < 64 {
        return None;
    }
    // Swallow the `-----END ... PRIVATE KEY-----` line when it is there.
    let rest = &hay[i..limit];
    if rest.starts_with(b"-----END ") {
        let tail = &rest[9..];
        if let Some(close) = memchr::memmem::find(&tail[..tail.len().min(64)], b"-----") {
            return Some((start, i + 9 + close + 5));
        }
    }
    Some((start, i))
}

/// A JWT's header is base64url JSON naming its `alg`; the payload must decode too.
fn jwt(hay: &[u8], start: usize, end: usize) -> bool {
    let token = |b: u8| is_alnum(b) || b == b'_' || b == b'-' || b == b'.';
    if !isolated(hay, start, end, token) {
        return false;
    }
    let mut parts = hay[start..end].split(|&b| b == b'.');
    let (Some(header), Some(payload)) = (parts.next(), parts.next()) else {
        return false;
    };
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let Ok(header) = engine.decode(header) else {
        return false;
    };
    if engine.decode(payload).is_err() {
        return false;
    }
    let Ok(serde_json::Value::Object(header)) = serde_json::from_slice(&header) else {
        return false;
    };
    header.get("alg").is_some_and(serde_json::Value::is_string)
}

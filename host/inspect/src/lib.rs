//! Content inspection (DLP) over file bytes the host reads from a connector.
//!
//! The host pulls a file through `read-file` in chunks and hands each to an
//! [`Inspection`]; [`Inspection::finish`] says which classifiers matched, how often, and
//! shows each with a few redacted snippets. Inspection runs in the host, never in a
//! connector, and is bounded in bytes, text, memory and work whatever the file holds.
//!
//! # What is detected, and how each is validated
//! A regex only proposes a candidate (Rust's `regex` is linear-time: no input
//! backtracks); the check after it decides.
//!
//! | classifier | candidate | validation |
//! |---|---|---|
//! | `card` | 13–19 digits, optionally grouped by spaces or dashes | one separator kind, printed layouts only (4-4-4-4[-1..4], 4-6-5, 4-6-4); issuer prefix and length (Visa, Mastercard, Amex, Discover, Diners, JCB, UnionPay, Maestro, Mir); Luhn; not part of a longer digit run or word |
//! | `iban` | two letters, two digits, 11–32 alphanumerics (spaces every four) | country in the ISO 13616 table with its exact length; ISO 7064 mod 97 = 1; whole token |
//! | `ssn` | `AAA-GG-SSSS`, or nine bare digits | area not 000, 666, 900–999; group not 00; serial not 0000; not the advertising numbers 078-05-1120 / 219-09-9999. Bare nine digits count only with `ssn`, `social security` or `soc sec` in the 40 bytes before (nine-digit runs are too common alone); dashed ones always |
//! | `email` | `local@domain.tld` | a letters-only TLD; a hit only when at least [`Config::email_min_distinct`] distinct addresses (case-insensitive) are found; `count` is the distinct addresses |
//! | `aws-access-key-id` | `AKIA`/`ASIA` + 16 of `A-Z2-7` | whole token |
//! | `aws-secret-access-key` | 40 of `A-Za-z0-9/+` | whole token, mixes upper, lower and digits, and an access key id within 256 bytes |
//! | `github-token` | `ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_` + 36, `github_pat_` + 22 `_` 59 | the last 6 characters are the base62 CRC32 of the 30 before them; `github_pat_` has no public checksum, its layout is checked |
//! | `slack-token` | `xoxb-`/`xoxp-`/`xoxa-`/`xoxr-`/`xoxe-` (and `xoxe.xoxp-`) dash-separated, `xapp-N-ID-DIGITS-HEX` | whole token of that layout (Slack tokens carry no checksum) |
//! | `private-key` | `-----BEGIN [RSA/DSA/EC/OPENSSH/ENCRYPTED/PGP] PRIVATE KEY-----` | at least 64 base64 characters of body follow; the match runs through the `END` line |
//! | `jwt` | `eyJ…` `.` `…` `.` `…` base64url | the header decodes to a JSON object with a string `alg`; the payload decodes |
//!
//! Operator rules ([`KeywordRule`], [`PatternRule`]) count every match.
//!
//! # Snippets
//! Each hit keeps up to [`Limits::max_snippets`] snippets: about 40 bytes either side
//! of a match, with the match replaced by `[classifier]` (a card by `[card …1234]`, its
//! last four digits), every other candidate of any classifier in the context replaced
//! by its `[name]`, the digits of any run of five or more replaced by `#`, and a word
//! cut by the context's edge dropped. The raw match is never kept.
//!
//! # Formats
//! Detected by MIME type, then the file name's extension, then the first bytes (zip
//! magic, `%PDF-`, UTF-8 text):
//! - text (`text/*`, CSV, XML, YAML, code, …): scanned as it arrives, with a carry-over
//!   so a match split across chunks is found once;
//! - JSON: keys and string values (escapes decoded); JSON that does not parse as one
//!   document (JSON Lines, broken) is scanned as text;
//! - docx, xlsx, pptx (zip + XML via `zip` and `quick-xml`): body, headers, footers,
//!   notes, comments, shared strings, sheets, slides;
//! - PDF (via `lopdf`): the text of each page.
//!
//! Not inspected, with the reason in [`Outcome::NotInspected`]: any other type
//! (images, media, archives other than OOXML, legacy `.doc`/`.xls`), encrypted PDFs
//! and Office files, corrupt containers, containers over [`Limits::max_file_bytes`],
//! and zips that expand past [`Limits::max_uncompressed_bytes`] (zip bombs). UTF-16
//! text, images inside documents and scanned (image-only) PDFs are not read.
//!
//! # Limits
//! [`Limits`]: bytes read per file (text past it is not scanned and the result is
//! `truncated`; JSON past it is scanned as text, `truncated`; a container past it is
//! refused: it must be whole to be read), text scanned, total uncompressed bytes read
//! from a zip (and each PDF page's decompressed content), zip entries, PDF pages,
//! snippets kept per classifier. [`Inspection::wants_more`] tells the caller when to
//! stop reading. Work is linear in the bytes read; the classifiers without a literal
//! to search for (card, IBAN, SSN, email, AWS secret) share one automaton pass. A
//! match is at most 12 KiB long: an operator regex matching more may be split.
//! Wall-clock limits belong to the caller (a bounded worker pool with a deadline):
//! containers are parsed inside [`Inspection::finish`], which is bounded by the limits
//! above but cannot be interrupted; a panic inside the PDF or zip parser is caught and
//! reported as not inspected.

use std::collections::HashSet;
use std::sync::Arc;

use regex::bytes::RegexBuilder;
use serde::{Deserialize, Serialize};

mod classify;
mod extract;
mod scan;
#[cfg(test)]
mod tests;

pub use classify::Builtin;

use classify::{Classifier, Kind};
use extract::{Detected, Format, Sniffed};
use scan::{Rules, SharedPass, TextScanner};

/// What to look for and how much to read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Built-in classifiers switched on (all by default).
    pub builtins: Vec<Builtin>,
    /// Operator keyword lists.
    pub keywords: Vec<KeywordRule>,
    /// Operator regexes.
    pub patterns: Vec<PatternRule>,
    /// Emails are a hit only in bulk: at least this many distinct addresses.
    pub email_min_distinct: u64,
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            builtins: Builtin::ALL.to_vec(),
            keywords: Vec::new(),
            patterns: Vec::new(),
            email_min_distinct: 10,
            limits: Limits::default(),
        }
    }
}

/// A named list of words; any of them counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeywordRule {
    /// Reported as the hit's classifier.
    pub name: String,
    pub words: Vec<String>,
    /// Match case exactly (default: ignore case).
    #[serde(default)]
    pub case_sensitive: bool,
}

/// A named regex (Rust `regex` syntax); every match counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternRule {
    /// Reported as the hit's classifier.
    pub name: String,
    pub regex: String,
}

/// Bounds on one inspection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// File bytes read. Text past it is not scanned (`truncated`); a container (docx,
    /// xlsx, pptx, PDF) must be whole, so one past it is not inspected.
    pub max_file_bytes: u64,
    /// Text scanned (plain, or extracted from a container).
    pub max_text_bytes: u64,
    /// Bytes decompressed from a zip in total, and from each PDF page's content:
    /// past it the file is refused as a zip bomb.
    pub max_uncompressed_bytes: u64,
    /// Entries in a zip's directory.
    pub max_zip_entries: usize,
    /// PDF pages read (the rest: `truncated`).
    pub max_pdf_pages: usize,
    /// Snippets kept per classifier (the count goes on).
    pub max_snippets: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 50 << 20,
            max_text_bytes: 50 << 20,
            max_uncompressed_bytes: 200 << 20,
            max_zip_entries: 10_000,
            max_pdf_pages: 2_000,
            max_snippets: 3,
        }
    }
}

/// A config that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("rule `{name}`: invalid regex: {error}")]
    InvalidRegex { name: String, error: String },
    #[error("rule `{0}`: no words")]
    NoWords(String),
    #[error("classifier name `{0}` is used twice")]
    DuplicateName(String),
    #[error("a rule has an empty name")]
    EmptyName,
    #[error("rule `{0}`: the regex matches empty text")]
    MatchesEmpty(String),
}

/// The result of one file's inspection, stored per file version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum Outcome {
    Inspected {
        /// Classifiers that matched, in config order (built-ins first).
        hits: Vec<Hit>,
        /// File bytes inspected.
        bytes: u64,
        /// Not all of the file was inspected (a limit was reached, or PDF pages
        /// could not be read); hits are what was found before.
        truncated: bool,
    },
    NotInspected {
        /// Why, for people: `not inspected (image/png)`, `over the 50 MiB limit`,
        /// `encrypted PDF`, `corrupt docx: …`, `zip bomb: …`.
        reason: String,
    },
}

/// One classifier's findings in a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Hit {
    pub classifier: String,
    /// Matches (for `email`: distinct addresses).
    pub count: u64,
    /// Context around the first few matches, redacted (see the module doc).
    pub snippets: Vec<String>,
}

/// Compiled classifiers and limits; cheap to share (`Clone` is an `Arc`), and
/// [`Inspector::start`] is cheap per file.
#[derive(Clone, Debug)]
pub struct Inspector {
    rules: Arc<Rules>,
    limits: Limits,
}

/// Regex program size an operator pattern may compile to.
const OPERATOR_REGEX_SIZE: usize = 2 << 20;

impl Inspector {
    pub fn new(config: Config) -> Result<Inspector, ConfigError> {
        let mut classifiers = Vec::new();
        let mut seen = HashSet::new();
        let mut builtins = config.builtins.clone();
        builtins.sort_by_key(|b| Builtin::ALL.iter().position(|x| x == b));
        builtins.dedup();
        for builtin in builtins {
            seen.insert(builtin.name().to_owned());
            classifiers.push(Classifier::builtin(builtin));
        }
        let mut operator = |name: &str, pattern: String| -> Result<(), ConfigError> {
            if name.trim().is_empty() {
                return Err(ConfigError::EmptyName);
            }
            if !seen.insert(name.to_owned()) {
                return Err(ConfigError::DuplicateName(name.to_owned()));
            }
            let regex = RegexBuilder::new(&pattern)
                .size_limit(OPERATOR_REGEX_SIZE)
                .build()
                .map_err(|e| ConfigError::InvalidRegex {
                    name: name.to_owned(),
                    error: e.to_string(),
                })?;
            // One that matches nothing at all would "match" between every two bytes.
            if regex.is_match(b"") {
                return Err(ConfigError::MatchesEmpty(name.to_owned()));
            }
            classifiers.push(Classifier {
                name: name.to_owned(),
                kind: Kind::Operator,
                regex,
            });
            Ok(())
        };
        for rule in &config.keywords {
            let words: Vec<String> = rule
                .words
                .iter()
                .filter(|w| !w.trim().is_empty())
                .map(|w| keyword_pattern(w.trim()))
                .collect();
            if words.is_empty() {
                return Err(ConfigError::NoWords(rule.name.clone()));
            }
            let flags = if rule.case_sensitive { "" } else { "(?i)" };
            operator(&rule.name, format!("{flags}(?:{})", words.join("|")))?;
        }
        for rule in &config.patterns {
            operator(&rule.name, rule.regex.clone())?;
        }
        let members: Vec<usize> = classifiers
            .iter()
            .enumerate()
            .filter(|(_, c)| matches!(c.kind, Kind::Builtin(b) if b.shares_pass()))
            .map(|(i, _)| i)
            .collect();
        let shared = (members.len() > 1).then(|| {
            let pattern = |i: usize| match classifiers[i].kind {
                Kind::Builtin(b) => b.pattern(),
                Kind::Operator => unreachable!("only built-ins share the pass"),
            };
            let joint: Vec<String> = members
                .iter()
                .map(|&i| format!("(?:{})", pattern(i)))
                .collect();
            let compile = |p: &str| regex::bytes::Regex::new(p).expect("built-in patterns compile");
            SharedPass {
                regex: compile(&joint.join("|")),
                members: members
                    .iter()
                    .map(|&i| (i, compile(&format!(r"\A(?:{})", pattern(i)))))
                    .collect(),
            }
        });
        Ok(Inspector {
            rules: Arc::new(Rules {
                classifiers,
                shared,
                email_min_distinct: config.email_min_distinct.max(1),
                max_snippets: config.limits.max_snippets,
            }),
            limits: config.limits,
        })
    }

    /// Starts inspecting one file, named `name` (its extension helps detection), of
    /// MIME type `mime` when the provider says.
    pub fn start(&self, name: &str, mime: Option<&str>) -> Inspection {
        let state = match extract::detect(name, mime) {
            Detected::Known(format) => self.state_for(format, Vec::new()),
            Detected::Sniff => State::Sniff(Vec::new()),
            Detected::Unsupported(mime) => State::Refused(format!("not inspected ({mime})")),
        };
        Inspection {
            rules: Arc::clone(&self.rules),
            limits: self.limits.clone(),
            state,
            fed: 0,
        }
    }

    fn state_for(&self, format: Format, head: Vec<u8>) -> State {
        state_for(&self.rules, &self.limits, format, head)
    }
}

/// A keyword as a regex: literal, and a whole word where it starts or ends with one.
fn keyword_pattern(word: &str) -> String {
    let boundary = |c: Option<char>| {
        if c.is_some_and(|c| c.is_ascii_alphanumeric()) {
            r"(?-u:\b)"
        } else {
            ""
        }
    };
    format!(
        "{}{}{}",
        boundary(word.chars().next()),
        regex::escape(word),
        boundary(word.chars().last())
    )
}

fn state_for(rules: &Arc<Rules>, limits: &Limits, format: Format, head: Vec<u8>) -> State {
    match format {
        Format::Text => {
            let max = limits.max_text_bytes.min(limits.max_file_bytes);
            let mut scanner = TextScanner::new(Arc::clone(rules), max);
            scanner.push(&head);
            State::Text(scanner)
        }
        _ => State::Buffer {
            format: Some(format),
            buf: head,
        },
    }
}

/// One file being inspected: [`feed`](Inspection::feed) its bytes in order, then
/// [`finish`](Inspection::finish).
#[derive(Debug)]
pub struct Inspection {
    rules: Arc<Rules>,
    limits: Limits,
    state: State,
    /// File bytes fed so far.
    fed: u64,
}

#[derive(Debug)]
enum State {
    /// Nothing said what the file is: the first bytes will.
    Sniff(Vec<u8>),
    /// Scanned as it arrives.
    Text(TextScanner),
    /// Read whole, then extracted (`None`: a zip whose members say which OOXML kind).
    Buffer {
        format: Option<Format>,
        buf: Vec<u8>,
    },
    Refused(String),
}

impl Inspection {
    /// Feeds the next chunk of the file (any size, including empty).
    pub fn feed(&mut self, chunk: &[u8]) {
        let before = self.fed;
        self.fed += chunk.len() as u64;
        let max = self.limits.max_file_bytes;
        let within = usize::try_from(max.saturating_sub(before))
            .unwrap_or(usize::MAX)
            .min(chunk.len());
        match &mut self.state {
            State::Refused(_) => {}
            State::Text(scanner) => {
                scanner.push(&chunk[..within]);
                if within < chunk.len() {
                    scanner.mark_truncated();
                }
            }
            State::Sniff(head) => {
                head.extend_from_slice(&chunk[..within]);
                if head.len() >= extract::SNIFF_BYTES || within < chunk.len() {
                    let head = std::mem::take(head);
                    self.state = self.resolve_sniff(head);
                    if within < chunk.len() {
                        self.over_limit();
                    }
                }
            }
            State::Buffer { buf, .. } => {
                buf.extend_from_slice(&chunk[..within]);
                if within < chunk.len() {
                    self.over_limit();
                }
            }
        }
    }

    /// False once more bytes would change nothing (the type is not inspected, a limit
    /// was reached): the host can stop reading the file.
    pub fn wants_more(&self) -> bool {
        match &self.state {
            State::Refused(_) => false,
            State::Text(scanner) => {
                self.fed < self.limits.max_file_bytes
                    && scanner.taken() < self.limits.max_text_bytes
            }
            State::Sniff(_) | State::Buffer { .. } => self.fed <= self.limits.max_file_bytes,
        }
    }

    /// Ends the inspection (the file was read to its end, or the caller stops early:
    /// then only what was fed is inspected).
    pub fn finish(self) -> Outcome {
        self.finish_with_scanner().0
    }

    fn finish_with_scanner(mut self) -> (Outcome, Option<TextScanner>) {
        if let State::Sniff(head) = &mut self.state {
            let head = std::mem::take(head);
            self.state = self.resolve_sniff(head);
        }
        let fed = self.fed;
        let over = fed > self.limits.max_file_bytes;
        let mut scanner = match self.state {
            State::Refused(reason) => return (Outcome::NotInspected { reason }, None),
            State::Sniff(_) => unreachable!("resolved above"),
            State::Text(scanner) => scanner,
            State::Buffer { format, buf } => {
                match extract_container(&self.rules, &self.limits, format, &buf) {
                    Ok(scanner) => scanner,
                    Err(reason) => return (Outcome::NotInspected { reason }, None),
                }
            }
        };
        let (hits, truncated) = scanner.finish();
        let outcome = Outcome::Inspected {
            hits,
            bytes: fed.min(self.limits.max_file_bytes),
            truncated: truncated || over,
        };
        (outcome, Some(scanner))
    }

    /// The file went past the byte limit: text keeps what it has (truncated), JSON
    /// is scanned as text, a container is refused.
    fn over_limit(&mut self) {
        let state = std::mem::replace(&mut self.state, State::Refused(String::new()));
        self.state = match state {
            State::Buffer {
                format: Some(Format::Json),
                buf,
            } => {
                let mut next = state_for(&self.rules, &self.limits, Format::Text, buf);
                if let State::Text(scanner) = &mut next {
                    scanner.mark_truncated();
                }
                next
            }
            State::Buffer { .. } => State::Refused(format!(
                "over the {} limit",
                human_bytes(self.limits.max_file_bytes)
            )),
            other => other,
        };
    }

    fn resolve_sniff(&self, head: Vec<u8>) -> State {
        match extract::sniff(&head) {
            Sniffed::Known(format) => state_for(&self.rules, &self.limits, format, head),
            Sniffed::Zip => State::Buffer {
                format: None,
                buf: head,
            },
            Sniffed::Unsupported(what) => State::Refused(format!("not inspected ({what})")),
        }
    }
}

/// Extracts a whole container's text into a fresh scanner. A panic inside a parser
/// (hostile input) is caught: the file is reported, the host goes on.
fn extract_container(
    rules: &Arc<Rules>,
    limits: &Limits,
    format: Option<Format>,
    buf: &[u8],
) -> Result<TextScanner, String> {
    let format = match format {
        Some(format) => format,
        None => extract::ooxml_kind(buf).ok_or("not inspected (zip archive)")?,
    };
    let mut scanner = TextScanner::new(Arc::clone(rules), limits.max_text_bytes);
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match format {
        Format::Text => {
            scanner.push(buf);
            Ok(())
        }
        Format::Json => {
            if !extract::json(buf, &mut scanner) {
                scanner = TextScanner::new(Arc::clone(rules), limits.max_text_bytes);
                scanner.push(buf);
            }
            Ok(())
        }
        Format::Docx | Format::Xlsx | Format::Pptx => {
            extract::ooxml(format, buf, limits, &mut scanner)
        }
        Format::Pdf => extract::pdf(buf, limits, &mut scanner),
    }));
    match run {
        Ok(Ok(())) => Ok(scanner),
        Ok(Err(reason)) => Err(reason),
        Err(_) => Err(format!("{} parser failed", format.label())),
    }
}

/// `50 MiB`, `300 KiB`, `17 bytes`.
pub(crate) fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 && n % (1 << 30) == 0 => format!("{} GiB", n >> 30),
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

//! Streaming text scan: every classifier over text that arrives in pieces of any size,
//! each match counted once and shown only as a redacted snippet.
//!
//! The scanner keeps a window of the text. A match is taken only when it starts more
//! than a look-ahead ([`LOOKAHEAD`]) before the window's end, so it cannot be cut by
//! the next piece, and each classifier resumes where it stopped, so nothing before
//! that point is looked at twice. The bytes kept before the resume point
//! ([`KEEP_BEFORE`]) give validators their left context ("is a digit before me?", "is
//! `SSN` near?") and snippets their leading words, across piece boundaries.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hasher as _};
use std::sync::Arc;

use crate::Hit;
use crate::classify::{Builtin, Classifier, Kind, MAX_MATCH};

/// Bytes of context either side of a match in a snippet.
const CONTEXT: usize = 40;
/// Bytes kept before the earliest resume point: validators look up to 256 bytes back.
const KEEP_BEFORE: usize = 320;
/// A match must start this far before the window's end to be taken before the end of
/// the text: it fits (at most [`MAX_MATCH`]) and so do its right-hand neighbours.
const LOOKAHEAD: usize = MAX_MATCH + KEEP_BEFORE;
/// Text gathered before a scan runs, so small pieces do not rescan the look-ahead.
const SCAN_EVERY: usize = 64 * 1024;
/// Distinct email addresses remembered (as hashes); past this the count stops growing.
const MAX_DISTINCT_EMAILS: usize = 100_000;

/// The classifiers and settings an inspection runs with, shared by all inspections of
/// one [`crate::Inspector`].
#[derive(Debug)]
pub(crate) struct Rules {
    pub classifiers: Vec<Classifier>,
    /// Classifiers found in one pass together (see [`SharedPass`]).
    pub shared: Option<SharedPass>,
    pub email_min_distinct: u64,
    pub max_snippets: usize,
}

/// Classifiers whose candidates have no literal to search for (cards, IBANs, SSNs,
/// emails, AWS secrets) each cost a full automaton pass over the text; run apart they
/// held all built-ins to ~130 MB/s. One regex of their alternatives finds where any
/// candidate starts in one pass; each member's own regex then runs only there.
/// A candidate of one member that starts inside another's rejected candidate is still
/// tried: the pass resumes after the next separator, not after the whole candidate.
#[derive(Debug)]
pub(crate) struct SharedPass {
    pub regex: regex::bytes::Regex,
    /// Indices into [`Rules::classifiers`], and each member's regex anchored at the
    /// start (so a miss costs only the bytes until the automaton dies).
    pub members: Vec<(usize, regex::bytes::Regex)>,
}

impl SharedPass {
    /// Longest candidate of a member (an email: 64 + 1 + 9 × 64).
    const SPAN: usize = 1024;
}

/// What one classifier found so far.
#[derive(Debug, Default)]
struct Tally {
    count: u64,
    snippets: Vec<String>,
    /// Email only: hashes of lower-cased addresses seen.
    distinct: HashSet<u64>,
}

/// Scans text pushed in pieces; see the module doc.
#[derive(Debug)]
pub(crate) struct TextScanner {
    rules: Arc<Rules>,
    /// The window: text from absolute offset `base` on.
    buf: Vec<u8>,
    base: u64,
    /// Per classifier: absolute offset its next search starts at.
    resume: Vec<u64>,
    tallies: Vec<Tally>,
    /// Text bytes pushed, and the most that will be taken.
    taken: u64,
    max_text: u64,
    truncated: bool,
    /// Every validated match, so tests can check no snippet shows one.
    #[cfg(test)]
    pub raw: Vec<Vec<u8>>,
}

impl TextScanner {
    pub fn new(rules: Arc<Rules>, max_text: u64) -> TextScanner {
        let n = rules.classifiers.len();
        TextScanner {
            rules,
            buf: Vec::new(),
            base: 0,
            resume: vec![0; n],
            tallies: (0..n).map(|_| Tally::default()).collect(),
            taken: 0,
            max_text,
            truncated: false,
            #[cfg(test)]
            raw: Vec::new(),
        }
    }

    /// Adds text; returns false once the text limit is reached (the rest is dropped
    /// and the result marked truncated).
    pub fn push(&mut self, text: &[u8]) -> bool {
        let room = self.max_text.saturating_sub(self.taken);
        let take = text.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        if take < text.len() {
            self.truncated = true;
        }
        self.buf.extend_from_slice(&text[..take]);
        self.taken += take as u64;
        if self.buf.len() >= SCAN_EVERY + LOOKAHEAD + KEEP_BEFORE {
            self.scan(false);
        }
        !self.truncated
    }

    /// Bytes of text taken.
    pub fn taken(&self) -> u64 {
        self.taken
    }

    pub fn mark_truncated(&mut self) {
        self.truncated = true;
    }

    /// Scans what is left and returns the hits (in classifier order) and whether the
    /// text was cut at the limit.
    pub fn finish(&mut self) -> (Vec<Hit>, bool) {
        self.scan(true);
        let mut hits = Vec::new();
        for (classifier, tally) in self.rules.classifiers.iter().zip(&mut self.tallies) {
            let count = if matches!(classifier.kind, Kind::Builtin(Builtin::Email)) {
                let distinct = tally.distinct.len() as u64;
                if distinct < self.rules.email_min_distinct {
                    continue;
                }
                distinct
            } else {
                tally.count
            };
            if count == 0 {
                continue;
            }
            hits.push(Hit {
                classifier: classifier.name.clone(),
                count,
                snippets: std::mem::take(&mut tally.snippets),
            });
        }
        (hits, self.truncated)
    }

    fn scan(&mut self, last: bool) {
        let len = self.buf.len();
        let stop = if last { len } else { len - LOOKAHEAD };
        let rules = Arc::clone(&self.rules);
        let mut in_shared = vec![false; rules.classifiers.len()];
        if let Some(shared) = &rules.shared {
            for (ci, _) in &shared.members {
                in_shared[*ci] = true;
            }
            self.scan_shared(shared, stop);
        }
        for (ci, classifier) in rules.classifiers.iter().enumerate() {
            if in_shared[ci] {
                continue;
            }
            let mut at = self.rel(self.resume[ci]);
            while at < stop {
                let Some(m) = classifier.regex.find_at(&self.buf, at) else {
                    break;
                };
                if m.start() >= stop {
                    break;
                }
                let mut next = if m.is_empty() { m.end() + 1 } else { m.end() };
                if let Some((s, e)) = classifier.validate(&self.buf, m.start(), m.end()) {
                    self.record(ci, s, e);
                    next = next.max(e);
                }
                at = next;
            }
            self.resume[ci] = self.base + at.max(stop) as u64;
        }
        if last {
            return;
        }
        let earliest = self
            .resume
            .iter()
            .copied()
            .min()
            .unwrap_or(self.base + stop as u64);
        let cut = usize::try_from(earliest - self.base)
            .unwrap_or(usize::MAX)
            .saturating_sub(KEEP_BEFORE);
        self.buf.drain(..cut);
        self.base += cut as u64;
    }

    /// Position in `buf` of absolute offset `at`.
    fn rel(&self, at: u64) -> usize {
        usize::try_from(at - self.base).unwrap_or(usize::MAX)
    }

    /// The shared pass: where the joint regex finds a candidate, each member's regex is
    /// run at that start (within [`SharedPass::SPAN`]) and validated.
    fn scan_shared(&mut self, shared: &SharedPass, stop: usize) {
        let rules = Arc::clone(&self.rules);
        let mut at = self.rel(self.resume[shared.members[0].0]);
        while at < stop {
            let Some(m) = shared.regex.find_at(&self.buf, at) else {
                break;
            };
            let (s, m_end) = (m.start(), m.end());
            if s >= stop {
                break;
            }
            let window_end = (s + SharedPass::SPAN).min(self.buf.len());
            let mut taken_to = None;
            let first = self.buf[s];
            for (ci, anchored) in &shared.members {
                let ci = *ci;
                let classifier = &rules.classifiers[ci];
                if let Kind::Builtin(b) = classifier.kind
                    && !b.can_start(first)
                {
                    continue;
                }
                let Some(own) = anchored.find(&self.buf[s..window_end]) else {
                    continue;
                };
                let own_end = s + own.end();
                if let Some((vs, ve)) = classifier.validate(&self.buf, s, own_end) {
                    self.record(ci, vs, ve);
                    taken_to = Some(taken_to.unwrap_or(0).max(ve));
                }
            }
            at = match taken_to {
                Some(end) => end.max(s + 1),
                // Nothing here: go on after the next separator inside the candidate (a
                // rejected IBAN-shaped run must not hide a card that follows it).
                None => self.buf[s..m_end]
                    .iter()
                    .position(|&b| !b.is_ascii_alphanumeric())
                    .map_or(m_end, |i| s + i + 1)
                    .max(s + 1),
            };
        }
        let resume = self.base + at.max(stop) as u64;
        for (ci, _) in &shared.members {
            self.resume[*ci] = resume;
        }
    }

    fn record(&mut self, ci: usize, s: usize, e: usize) {
        #[cfg(test)]
        self.raw.push(self.buf[s..e].to_vec());
        let classifier = &self.rules.classifiers[ci];
        let tally = &mut self.tallies[ci];
        if matches!(classifier.kind, Kind::Builtin(Builtin::Email)) {
            if tally.distinct.len() >= MAX_DISTINCT_EMAILS {
                return;
            }
            let mut h = DefaultHasher::new();
            for b in &self.buf[s..e] {
                h.write_u8(b.to_ascii_lowercase());
            }
            if !tally.distinct.insert(h.finish()) {
                return;
            }
        }
        tally.count += 1;
        if tally.snippets.len() < self.rules.max_snippets {
            let snippet = snippet(&self.rules.classifiers, classifier, &self.buf, s, e);
            self.tallies[ci].snippets.push(snippet);
        }
    }
}

/// Bytes that continue a word, number or token: a window edge falling inside one drops
/// the fragment, so no half of a secret shows.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_-+/=.@%".contains(&b) || b >= 0x80
}

/// `…context [classifier] context…` around `s..e` of `buf`.
fn snippet(all: &[Classifier], own: &Classifier, buf: &[u8], s: usize, e: usize) -> String {
    let mut cs = s.saturating_sub(CONTEXT);
    let mut ce = (e + CONTEXT).min(buf.len());
    if cs > 0 && is_token(buf[cs - 1]) {
        while cs < s && is_token(buf[cs]) {
            cs += 1;
        }
    }
    if ce < buf.len() && is_token(buf[ce]) {
        while ce > e && is_token(buf[ce - 1]) {
            ce -= 1;
        }
    }
    let mut out = mask(all, &buf[cs..s]);
    out.push_str(&own.redaction(&buf[s..e]));
    out.push_str(&mask(all, &buf[e..ce]));
    out.trim().to_owned()
}

/// Context with every other candidate of any classifier replaced by `[name]` and the
/// digits of any run of five or more (spaces or dashes between) replaced by `#`:
/// validated or not, near a match is where more sensitive text is likely.
fn mask(all: &[Classifier], piece: &[u8]) -> String {
    // Candidates of all classifiers, overlapping ones merged under the name of the one
    // that starts first (an IBAN's digits also look like the tail of a card).
    let mut spans: Vec<(usize, usize, usize)> = all
        .iter()
        .enumerate()
        .flat_map(|(ci, c)| {
            c.regex
                .find_iter(piece)
                .map(move |m| (m.start(), m.end(), ci))
        })
        .filter(|(s, e, _)| e > s)
        .collect();
    spans.sort_by_key(|&(s, e, _)| (s, std::cmp::Reverse(e)));
    let mut owner: Vec<Option<usize>> = vec![None; piece.len()];
    let mut current: Option<(usize, usize, usize)> = None;
    for (s, e, ci) in spans {
        match &mut current {
            Some((_, cur_end, _)) if s < *cur_end => *cur_end = (*cur_end).max(e),
            _ => {
                if let Some((cs, ce, cci)) = current.replace((s, e, ci)) {
                    owner[cs..ce].fill(Some(cci));
                }
            }
        }
    }
    if let Some((cs, ce, cci)) = current {
        owner[cs..ce].fill(Some(cci));
    }
    let mut bytes = piece.to_vec();
    mask_digit_runs(&mut bytes);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if let Some(ci) = owner[i] {
            out.extend_from_slice(format!("[{}]", all[ci].name).as_bytes());
            while i < bytes.len() && owner[i] == Some(ci) {
                i += 1;
            }
            continue;
        }
        let b = bytes[i];
        out.push(if b.is_ascii_control() { b' ' } else { b });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn mask_digit_runs(bytes: &mut [u8]) {
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        // Extend over digits and single separators between digits.
        let start = i;
        let mut end = i + 1;
        let mut digits = 1;
        while end < bytes.len() {
            if bytes[end].is_ascii_digit() {
                digits += 1;
                end += 1;
            } else if matches!(bytes[end], b' ' | b'-')
                && bytes.get(end + 1).is_some_and(u8::is_ascii_digit)
            {
                end += 1;
            } else {
                break;
            }
        }
        if digits >= 5 {
            for b in &mut bytes[start..end] {
                if b.is_ascii_digit() {
                    *b = b'#';
                }
            }
        }
        i = end;
    }
}

//! Behaviour the host relies on: each classifier finds what it names and skips its
//! near misses, matches split across chunks count once, containers are read, hostile
//! input is bounded, and no snippet ever shows a match. Every inspection in these tests
//! goes through [`inspect`], which checks every snippet of every hit against every raw
//! match the scanner validated.

use std::io::Write as _;

use crate::classify::base62_6;
use crate::*;

/// Runs `chunks` through a fresh inspection and checks the redaction invariant.
fn inspect_with(
    inspector: &Inspector,
    name: &str,
    mime: Option<&str>,
    chunks: &[&[u8]],
) -> Outcome {
    let mut inspection = inspector.start(name, mime);
    for chunk in chunks {
        inspection.feed(chunk);
    }
    let (outcome, scanner) = inspection.finish_with_scanner();
    let raw = scanner.map(|s| s.raw).unwrap_or_default();
    assert_redacted(&outcome, &raw);
    outcome
}

/// The default inspector, compiled once (regex compilation is slow unoptimised).
fn default_inspector() -> &'static Inspector {
    static INSPECTOR: std::sync::OnceLock<Inspector> = std::sync::OnceLock::new();
    INSPECTOR.get_or_init(|| Inspector::new(Config::default()).unwrap())
}

/// An inspector with every built-in and the given limits.
fn limited(limits: Limits) -> Inspector {
    Inspector::new(Config {
        limits,
        ..Config::default()
    })
    .unwrap()
}

fn inspect(name: &str, chunks: &[&[u8]]) -> Outcome {
    inspect_with(default_inspector(), name, None, chunks)
}

fn text(s: &str) -> Outcome {
    inspect("notes.txt", &[s.as_bytes()])
}

fn alnum(s: &str) -> String {
    s.chars().filter(char::is_ascii_alphanumeric).collect()
}

/// No snippet holds a raw match, nor its letters and digits run together (a card
/// shown as `4111-1111…` when found as `4111 1111…`).
fn assert_redacted(outcome: &Outcome, raw: &[Vec<u8>]) {
    let Outcome::Inspected { hits, .. } = outcome else {
        return;
    };
    for hit in hits {
        assert!(hit.snippets.len() as u64 <= hit.count, "{hit:?}");
        for snippet in &hit.snippets {
            let flat = alnum(snippet);
            for m in raw {
                let m = String::from_utf8_lossy(m);
                assert!(!snippet.contains(&*m), "snippet {snippet:?} shows {m:?}");
                let m = alnum(&m);
                if m.len() >= 8 {
                    assert!(!flat.contains(&m), "snippet {snippet:?} shows {m:?}");
                }
            }
        }
    }
}

/// (classifier, count) of each hit.
fn found(outcome: &Outcome) -> Vec<(String, u64)> {
    match outcome {
        Outcome::Inspected { hits, .. } => hits
            .iter()
            .map(|h| (h.classifier.clone(), h.count))
            .collect(),
        Outcome::NotInspected { reason } => panic!("not inspected: {reason}"),
    }
}

fn count(outcome: &Outcome, classifier: &str) -> u64 {
    found(outcome)
        .into_iter()
        .find(|(c, _)| c == classifier)
        .map_or(0, |(_, n)| n)
}

fn snippets(outcome: &Outcome, classifier: &str) -> Vec<String> {
    match outcome {
        Outcome::Inspected { hits, .. } => hits
            .iter()
            .filter(|h| h.classifier == classifier)
            .flat_map(|h| h.snippets.clone())
            .collect(),
        Outcome::NotInspected { reason } => panic!("not inspected: {reason}"),
    }
}

fn reason(outcome: &Outcome) -> String {
    match outcome {
        Outcome::NotInspected { reason } => reason.clone(),
        other => panic!("inspected: {other:?}"),
    }
}

fn github_token(prefix: &str, random: &str) -> String {
    let check = base62_6(crc32fast::hash(random.as_bytes()));
    format!("{prefix}_{random}{}", String::from_utf8_lossy(&check))
}

// ---- classifiers ----------------------------------------------------------------

#[test]
fn cards_with_known_prefixes_and_luhn_are_found_in_any_printed_grouping() {
    for card in [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4012-8888-8888-1881",
        "5555555555554444",
        "2223003122003222",
        "378282246310005",
        "3782 822463 10005",
        "6011111111111117",
        "3530111333300000",
        "4222222222222",
    ] {
        let out = text(&format!("paid with {card} yesterday"));
        assert_eq!(found(&out), vec![("card".to_owned(), 1)], "{card}");
    }
}

#[test]
fn card_near_misses_are_not_cards() {
    for near_miss in [
        "4111111111111112",        // Luhn fails
        "4111 1111 1111 1112",     // Luhn fails, grouped
        "1234567812345670",        // Luhn ok, no issuer starts with 1
        "94111111111111111",       // a valid card inside a longer digit run
        "x4111111111111111",       // part of a word
        "4111 1111-1111 1111",     // mixed separators
        "41 11 11 11 11 11 11 11", // not a printed layout
        "3.4111111111111111",      // a decimal
    ] {
        let out = text(&format!("value {near_miss} end"));
        assert_eq!(count(&out, "card"), 0, "{near_miss}");
    }
}

#[test]
fn a_card_followed_by_another_number_group_is_still_found() {
    let out = text("card 4111 1111 1111 1111 2029 exp");
    assert_eq!(count(&out, "card"), 1);
}

#[test]
fn ibans_pass_the_country_length_and_mod_97() {
    for iban in [
        "GB82 WEST 1234 5698 7654 32",
        "GB82WEST12345698765432",
        "DE89 3704 0044 0532 0130 00",
        "FR14 2004 1010 0505 0001 3M02 606",
        "NL91ABNA0417164300",
    ] {
        let out = text(&format!("wire to {iban} today"));
        assert_eq!(found(&out), vec![("iban".to_owned(), 1)], "{iban}");
    }
    for near_miss in [
        "GB83 WEST 1234 5698 7654 32", // wrong check digits
        "GB82 WEST 1234 5698 7654 33", // one character changed
        "GB82WEST1234569876543",       // too short for GB
        "ZZ82WEST12345698765432",      // no such country
        "GB82 WE ST12 3456 9876 5432", // spaces not every four
    ] {
        let out = text(&format!("wire to {near_miss} today"));
        assert_eq!(count(&out, "iban"), 0, "{near_miss}");
    }
}

#[test]
fn ssns_in_valid_ranges_dashed_or_next_to_the_keyword() {
    assert_eq!(count(&text("employee 123-45-6789 hired"), "ssn"), 1);
    assert_eq!(count(&text("SSN: 123456789"), "ssn"), 1);
    assert_eq!(count(&text("Social Security Number 234567890"), "ssn"), 1);
    for near_miss in [
        "id 000-12-3456",
        "id 666-12-3456",
        "id 912-34-5678",
        "id 123-00-4567",
        "id 123-45-0000",
        "id 078-05-1120",
        "order 123456789 shipped", // bare digits, no keyword
        "ssn 000123456",           // keyword, but area 000
        "tel 1-123-45-6789",       // inside a longer dashed run
    ] {
        assert_eq!(count(&text(near_miss), "ssn"), 0, "{near_miss}");
    }
}

#[test]
fn emails_are_a_hit_only_in_bulk() {
    let ten: String = (0..10).map(|i| format!("user{i}@example.com, ")).collect();
    let out = text(&ten);
    assert_eq!(count(&out, "email"), 10);
    let nine: String = (0..9).map(|i| format!("user{i}@example.com ")).collect();
    assert_eq!(count(&text(&nine), "email"), 0);
    let same = "Alice@Example.com alice@example.com ".repeat(20);
    assert_eq!(
        count(&text(&same), "email"),
        0,
        "one address repeated is one"
    );

    let config = Config {
        email_min_distinct: 3,
        ..Config::default()
    };
    let inspector = Inspector::new(config).unwrap();
    let three = b"a@x.org b@x.org c@x.org d@x.c0m";
    let out = inspect_with(&inspector, "a.txt", None, &[three]);
    assert_eq!(
        count(&out, "email"),
        3,
        "a TLD with a digit is not an address"
    );
}

#[test]
fn aws_key_ids_alone_and_secrets_only_near_an_id() {
    let id = "AKIAIOSFODNN7EXAMPLE";
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let out = text(&format!(
        "aws_access_key_id = {id}\naws_secret_access_key = {secret}\n"
    ));
    assert_eq!(count(&out, "aws-access-key-id"), 1);
    assert_eq!(count(&out, "aws-secret-access-key"), 1);
    let packed = text(&format!(
        "aws_access_key_id={id}\naws_secret_access_key={secret}\n"
    ));
    assert_eq!(count(&packed, "aws-secret-access-key"), 1);
    let padded = text(&format!("{id} {secret}=\n"));
    assert_eq!(
        count(&padded, "aws-secret-access-key"),
        0,
        "base64 padding: longer"
    );
    let alone = text(&format!("checksum {secret}\n"));
    assert_eq!(count(&alone, "aws-secret-access-key"), 0);
    for near_miss in [
        "AKIAIOSFODNN7EXAMPL",
        "AKIAIOSFODNN1EXAMPLE",
        "XAKIAIOSFODNN7EXAMPLE",
    ] {
        assert_eq!(
            count(&text(near_miss), "aws-access-key-id"),
            0,
            "{near_miss}"
        );
    }
}

#[test]
fn github_tokens_need_their_crc32_checksum() {
    let good = github_token("ghp", "abcdefghijABCDEFGHIJ0123456789");
    let out = text(&format!("token: {good}"));
    assert_eq!(found(&out), vec![("github-token".to_owned(), 1)]);
    for prefix in ["gho", "ghu", "ghs", "ghr"] {
        let t = github_token(prefix, "Zyxwvutsrq9876543210ABCDEFGHIJ");
        assert_eq!(count(&text(&t), "github-token"), 1, "{t}");
    }
    // Bad checksum: the last character changed.
    let mut bad = good.clone();
    let last = bad.pop().unwrap();
    bad.push(if last == 'a' { 'b' } else { 'a' });
    assert_eq!(count(&text(&format!("token: {bad}")), "github-token"), 0);
    let pat = format!("github_pat_{}_{}", "A1b2C3d4E5f6G7h8I9j0K1", "x".repeat(59));
    assert_eq!(count(&text(&format!("GH_TOKEN={pat}")), "github-token"), 1);
}

#[test]
fn slack_tokens() {
    for token in [
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        "xoxp-123456789012-123456789012-123456789012-0123456789abcdef0123456789abcdef",
        "xapp-1-A0123456789-1234567890123-0123456789abcdef0123456789abcdef",
        "xoxe.xoxp-1-Mi0yLTEyMzQ1Njc4OTAxMi0x",
    ] {
        assert_eq!(
            count(&text(&format!("SLACK={token}\n")), "slack-token"),
            1,
            "{token}"
        );
    }
    for near_miss in ["xoxb-", "xoxz-123456789012-abcdef", "myxoxb-1234-5678"] {
        assert_eq!(count(&text(near_miss), "slack-token"), 0, "{near_miss}");
    }
}

const PEM: &str = "-----BEGIN RSA PRIVATE KEY-----\n\
MIIEowIBAAKCAQEAuNEYrp0kPq1bHn1f3aLkz8b4yXKq3ZyPzS1qgq2mJ3kX5nQb\n\
c2Vjb25kIGxpbmUgb2YgYmFzZTY0IGtleSBtYXRlcmlhbCBmb3IgdGhlIHRlc3Qu\n\
-----END RSA PRIVATE KEY-----\n";

#[test]
fn private_keys_with_a_body_and_no_key_material_in_snippets() {
    let out = text(&format!("deploy key:\n{PEM}trailing words"));
    assert_eq!(count(&out, "private-key"), 1);
    for snippet in snippets(&out, "private-key") {
        assert!(!snippet.contains("MIIEow"), "{snippet}");
        assert!(!snippet.contains("c2Vjb25k"), "{snippet}");
        assert!(snippet.contains("[private-key]"), "{snippet}");
    }
    let openssh = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----";
    assert_eq!(count(&text(openssh), "private-key"), 1);
    let header_only = "the header -----BEGIN PRIVATE KEY----- is documented here";
    assert_eq!(count(&text(header_only), "private-key"), 0);
}

#[test]
fn jwts_need_a_json_header_with_alg() {
    let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    let out = text(&format!("Authorization: Bearer {jwt}\n"));
    assert_eq!(found(&out), vec![("jwt".to_owned(), 1)]);
    // {"typ":"JWT"}: no alg.
    let no_alg = "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig";
    assert_eq!(count(&text(no_alg), "jwt"), 0);
    // Header not base64url JSON.
    let junk = "eyJhbGciOi!!.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig";
    assert_eq!(count(&text(junk), "jwt"), 0);
}

#[test]
fn operator_keywords_and_patterns() {
    let config = Config {
        keywords: vec![KeywordRule {
            name: "project-names".into(),
            words: vec!["Bluebird".into(), "Red Falcon".into()],
            case_sensitive: false,
        }],
        patterns: vec![PatternRule {
            name: "acme-id".into(),
            regex: r"ACME-[0-9]{6}".into(),
        }],
        ..Config::default()
    };
    let inspector = Inspector::new(config).unwrap();
    let doc = b"Plans for BLUEBIRD and red falcon; not bluebirds. Ref ACME-123456, ACME-12.";
    let out = inspect_with(&inspector, "plan.md", None, &[doc]);
    assert_eq!(
        found(&out),
        vec![("project-names".to_owned(), 2), ("acme-id".to_owned(), 1)]
    );
    assert!(snippets(&out, "acme-id")[0].contains("[acme-id]"));
}

#[test]
fn bad_configs_are_refused() {
    let bad_regex = Config {
        patterns: vec![PatternRule {
            name: "x".into(),
            regex: "(".into(),
        }],
        ..Config::default()
    };
    assert!(matches!(
        Inspector::new(bad_regex),
        Err(ConfigError::InvalidRegex { .. })
    ));
    let clash = Config {
        keywords: vec![KeywordRule {
            name: "card".into(),
            words: vec!["x".into()],
            case_sensitive: false,
        }],
        ..Config::default()
    };
    assert_eq!(
        Inspector::new(clash).unwrap_err(),
        ConfigError::DuplicateName("card".into())
    );
    let empty = Config {
        patterns: vec![PatternRule {
            name: "digits".into(),
            regex: "[0-9]*".into(),
        }],
        ..Config::default()
    };
    assert_eq!(
        Inspector::new(empty).unwrap_err(),
        ConfigError::MatchesEmpty("digits".into())
    );
    let parsed: Result<Config, _> = serde_json::from_str(r#"{"builtins":["card"],"colour":1}"#);
    assert!(parsed.is_err(), "unknown keys are rejected");
    let parsed: Config =
        serde_json::from_str(r#"{"builtins":["card","aws-access-key-id"]}"#).unwrap();
    assert_eq!(
        parsed.builtins,
        vec![Builtin::Card, Builtin::AwsAccessKeyId]
    );
}

#[test]
fn only_enabled_builtins_run() {
    let inspector = Inspector::new(Config {
        builtins: vec![Builtin::Iban],
        ..Config::default()
    })
    .unwrap();
    let out = inspect_with(
        &inspector,
        "a.txt",
        None,
        &[b"4111111111111111 GB82WEST12345698765432"],
    );
    assert_eq!(found(&out), vec![("iban".to_owned(), 1)]);
}

// ---- redaction --------------------------------------------------------------------

#[test]
fn snippets_redact_the_match_and_mask_neighbours() {
    let out = text(
        "Customer Bob, card 4111 1111 1111 1111 and backup 5555555555554444, tel 555-0199-1234.",
    );
    assert_eq!(count(&out, "card"), 2);
    let s = snippets(&out, "card");
    assert!(s[0].contains("[card …1111]"), "{s:?}");
    assert!(s[0].contains("Customer Bob, card"), "context kept: {s:?}");
    assert!(
        s[0].contains("[card]"),
        "the neighbouring card is masked: {s:?}"
    );
    assert!(!s[0].contains("5555"), "{s:?}");
    assert!(s[1].contains("[card …4444]"), "{s:?}");
    assert!(!s[1].contains("4111"), "{s:?}");
    assert!(
        s[1].contains("###-####-####"),
        "long digit runs masked: {s:?}"
    );
}

#[test]
fn snippets_are_capped_but_counts_are_not() {
    let many = "key AKIAIOSFODNN7EXAMPLE\n".repeat(50);
    let out = text(&many);
    assert_eq!(count(&out, "aws-access-key-id"), 50);
    assert_eq!(
        snippets(&out, "aws-access-key-id").len(),
        Limits::default().max_snippets
    );
}

// ---- chunking ---------------------------------------------------------------------

/// Text long enough that the scanner slides its window several times, with sensitive
/// values at known places.
fn long_text() -> (Vec<u8>, u64) {
    let mut doc = Vec::new();
    let mut planted = 0;
    for i in 0..400 {
        doc.extend_from_slice(
            format!("line {i} lorem ipsum dolor sit amet, consectetur adipiscing elit. ")
                .as_bytes(),
        );
        if i % 7 == 3 {
            doc.extend_from_slice(b"card 4111 1111 1111 1111 ");
            planted += 1;
        }
        doc.extend_from_slice(&vec![b'x'; 997]);
        doc.push(b'\n');
    }
    (doc, planted)
}

#[test]
fn a_match_split_across_chunks_is_found_exactly_once() {
    let (doc, planted) = long_text();
    let whole = inspect("big.txt", &[&doc]);
    assert_eq!(count(&whole, "card"), planted);
    for size in [1usize, 2, 3, 7, 13, 4096, 65_536 + 11, 100_003] {
        let chunks: Vec<&[u8]> = doc.chunks(size).collect();
        let out = inspect("big.txt", &chunks);
        assert_eq!(out, whole, "chunks of {size}");
    }
    // Every split point inside one card, at a place the window has already slid past.
    let at = doc.len() / 2;
    let mut doc2 = doc[..at].to_vec();
    let card_at = doc2.len();
    doc2.extend_from_slice(b" 4111-1111-1111-1111 ");
    doc2.extend_from_slice(&doc[at..]);
    for split in card_at..card_at + 21 {
        let out = inspect("big.txt", &[&doc2[..split], &doc2[split..]]);
        assert_eq!(
            count(&out, "card"),
            planted + 1,
            "split at {}",
            split - card_at
        );
    }
}

#[test]
fn text_past_the_byte_limit_is_truncated_not_refused() {
    let inspector = limited(Limits {
        max_file_bytes: 1000,
        ..Limits::default()
    });
    let mut doc = b"card 4111111111111111 ".to_vec();
    doc.extend_from_slice(&[b'a'; 2000]);
    doc.extend_from_slice(b" 5555555555554444");
    let mut inspection = inspector.start("a.txt", Some("text/plain"));
    inspection.feed(&doc[..600]);
    assert!(inspection.wants_more());
    inspection.feed(&doc[600..]);
    assert!(!inspection.wants_more());
    let out = inspection.finish();
    assert_eq!(
        out,
        Outcome::Inspected {
            hits: vec![Hit {
                classifier: "card".into(),
                count: 1,
                snippets: vec!["card [card …1111]".into()],
            }],
            bytes: 1000,
            truncated: true,
        }
    );
}

// ---- formats ----------------------------------------------------------------------

#[test]
fn csv_and_json_strings_and_keys() {
    let csv = b"name,card\nBob,4111111111111111\nAlice,5555555555554444\n";
    let out = inspect_with(default_inspector(), "x.csv", Some("text/csv"), &[csv]);
    assert_eq!(count(&out, "card"), 2);

    // An escaped card (\u0034 is '4') and a key holding an IBAN.
    let json = br#"{"customer": {"card": "\u0034111111111111111", "GB82WEST12345698765432": true, "n": 5}}"#;
    let out = inspect("export.json", &[json]);
    assert_eq!(
        found(&out),
        vec![("card".to_owned(), 1), ("iban".to_owned(), 1)]
    );

    // JSON Lines does not parse as one document: scanned as text.
    let lines = b"{\"a\": \"4111111111111111\"}\n{\"b\": \"AKIAIOSFODNN7EXAMPLE\"}\n";
    let out = inspect("events.jsonl", &[lines]);
    assert_eq!(count(&out, "card"), 1);
    assert_eq!(count(&out, "aws-access-key-id"), 1);
}

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, body) in files {
        zip.start_file(*name, options).unwrap();
        zip.write_all(body).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

const CONTENT_TYPES: &[u8] = br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#;

fn docx(document_xml: &str) -> Vec<u8> {
    zip_of(&[
        ("[Content_Types].xml", CONTENT_TYPES),
        ("word/document.xml", document_xml.as_bytes()),
        ("word/styles.xml", b"<w:styles>4111111111111111</w:styles>"),
    ])
}

const DOCX_MIME: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

#[test]
fn docx_text_with_a_card_split_across_runs() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>
<w:p><w:r><w:t>Card: 4111 1111</w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve"> 1111 1111</w:t></w:r></w:p>
<w:p><w:r><w:t>IBAN GB82 WEST 1234 5698 7654 32 &amp; more</w:t></w:r></w:p>
</w:body></w:document>"#;
    let file = docx(xml);
    let out = inspect_with(
        default_inspector(),
        "contract.docx",
        Some(DOCX_MIME),
        &[&file],
    );
    // styles.xml is not text: its digits are not counted.
    assert_eq!(
        found(&out),
        vec![("card".to_owned(), 1), ("iban".to_owned(), 1)]
    );
    // No MIME, no extension: sniffed as a zip, then as a docx by its members.
    let chunks: Vec<&[u8]> = file.chunks(100).collect();
    assert_eq!(inspect("blob", &chunks), out);
}

#[test]
fn xlsx_shared_strings_and_inline_cells() {
    let shared = br#"<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>SSN</t></si><si><t>123-45-6789</t></si></sst>"#;
    let sheet = br#"<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>GB82WEST12345698765432</t></is></c><c r="B2"><v>4111111111111111</v></c></row></sheetData></worksheet>"#;
    let file = zip_of(&[
        ("[Content_Types].xml", CONTENT_TYPES),
        ("xl/workbook.xml", b"<workbook/>"),
        ("xl/sharedStrings.xml", shared),
        ("xl/worksheets/sheet1.xml", sheet),
    ]);
    let out = inspect("people.xlsx", &[&file]);
    assert_eq!(
        found(&out),
        vec![
            ("card".to_owned(), 1),
            ("iban".to_owned(), 1),
            ("ssn".to_owned(), 1)
        ]
    );
}

#[test]
fn pptx_slides_and_notes() {
    let slide = |t: &str| {
        format!(
            r#"<p:sld xmlns:a="a" xmlns:p="p"><p:cSld><p:spTree><p:sp><p:txBody><a:p><a:r><a:t>{t}</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>"#
        )
    };
    let s1 = slide("Deploy with AKIAIOSFODNN7EXAMPLE");
    let s2 = slide("nothing here");
    let notes = slide("speaker note: xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx");
    let file = zip_of(&[
        ("ppt/presentation.xml", b"<p:presentation/>"),
        ("ppt/slides/slide1.xml", s1.as_bytes()),
        ("ppt/slides/slide2.xml", s2.as_bytes()),
        (
            "ppt/slides/_rels/slide1.xml.rels",
            b"<Relationships>AKIAIOSFODNN7EXAMPLE</Relationships>",
        ),
        ("ppt/notesSlides/notesSlide1.xml", notes.as_bytes()),
    ]);
    let out = inspect("deck.pptx", &[&file]);
    assert_eq!(
        found(&out),
        vec![
            ("aws-access-key-id".to_owned(), 1),
            ("slack-token".to_owned(), 1)
        ]
    );
}

#[test]
fn a_zip_bomb_is_refused() {
    let inspector = limited(Limits {
        max_uncompressed_bytes: 1 << 20,
        ..Limits::default()
    });
    // 8 MiB of text compresses to a few KiB.
    let mut xml = b"<w:document><w:body><w:p><w:r><w:t>".to_vec();
    xml.extend(std::iter::repeat_n(b'a', 8 << 20));
    xml.extend_from_slice(b"</w:t></w:r></w:p></w:body></w:document>");
    let file = zip_of(&[("word/document.xml", &xml)]);
    assert!(file.len() < 100_000, "{}", file.len());
    let out = inspect_with(&inspector, "bomb.docx", None, &[&file]);
    assert_eq!(
        reason(&out),
        "zip bomb: docx expands past the 1 MiB uncompressed limit"
    );
}

#[test]
fn containers_past_the_byte_limit_and_corrupt_or_unknown_files_are_not_inspected() {
    let inspector = limited(Limits {
        max_file_bytes: 1 << 10,
        ..Limits::default()
    });
    // Pseudo-random letters: they do not compress below the limit.
    let mut state = 0x2545_f491_u32;
    let noise: String = (0..5000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            char::from(b'a' + (state % 26) as u8)
        })
        .collect();
    let file = docx(&format!("<w:p><w:t>{noise}</w:t></w:p>"));
    let mut inspection = inspector.start("a.docx", None);
    inspection.feed(&file);
    assert!(!inspection.wants_more());
    assert_eq!(reason(&inspection.finish()), "over the 1 KiB limit");

    assert_eq!(
        reason(&inspect("broken.docx", &[b"PK\x03\x04 not really a zip"])),
        "corrupt docx: invalid Zip archive: Could not find EOCD"
    );
    assert!(reason(&inspect("broken.pdf", &[b"%PDF-1.4 garbage"])).starts_with("corrupt pdf"));
    let png = Inspector::new(Config::default())
        .unwrap()
        .start("a.png", Some("image/png"));
    assert!(!png.wants_more());
    assert_eq!(reason(&png.finish()), "not inspected (image/png)");
    for name in ["clip.MP4", "backup.tar", "photo.jpeg"] {
        let media = Inspector::new(Config::default()).unwrap().start(name, None);
        assert!(
            !media.wants_more(),
            "{name} is refused before a byte is read"
        );
        assert!(reason(&media.finish()).ends_with(" file)"), "{name}");
    }
    assert_eq!(
        reason(&inspect("blob", &[&[0u8, 1, 2, 3, 255, 254]])),
        "not inspected (application/octet-stream)"
    );
    assert_eq!(
        reason(&inspect(
            "archive",
            &[&zip_of(&[("a.txt", b"4111111111111111")])]
        )),
        "not inspected (zip archive)"
    );
    assert_eq!(
        reason(&inspect("old.doc.docx", &[&[0xD0, 0xCF, 0x11, 0xE0, 0, 0]])),
        "encrypted or legacy docx (OLE container)"
    );
}

fn pdf_with_text(lines: &[&str]) -> Vec<u8> {
    use lopdf::content::{Content, Operation};
    use lopdf::{Document, Object, Stream, dictionary};
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Courier",
    });
    let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let mut operations = vec![
        Operation::new("BT", vec![]),
        Operation::new("Tf", vec!["F1".into(), 12.into()]),
        Operation::new("Td", vec![72.into(), 700.into()]),
    ];
    for line in lines {
        operations.push(Operation::new("Tj", vec![Object::string_literal(*line)]));
        operations.push(Operation::new("Td", vec![0.into(), (-14).into()]));
    }
    operations.push(Operation::new("ET", vec![]));
    let content = Content { operations };
    let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().unwrap()));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1,
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    doc.compress();
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

#[test]
fn pdf_text_is_inspected() {
    let pdf = pdf_with_text(&[
        "Invoice 2291",
        "Paid by card 4111 1111 1111 1111",
        "Thank you",
    ]);
    let out = inspect_with(
        default_inspector(),
        "invoice.pdf",
        Some("application/pdf"),
        &[&pdf],
    );
    assert_eq!(found(&out), vec![("card".to_owned(), 1)]);
    // Sniffed by its magic when nothing else says.
    assert_eq!(inspect("scan-0001", &[&pdf]), out);
}

#[test]
fn inspectors_are_shared_across_threads_and_inspections_move_between_them() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Inspector>();
    send::<Inspection>();
}

#[test]
fn outcomes_round_trip_through_serde() {
    let out = text("SSN 123-45-6789");
    let json = serde_json::to_string(&out).unwrap();
    assert!(json.contains(r#""status":"inspected""#), "{json}");
    assert_eq!(serde_json::from_str::<Outcome>(&json).unwrap(), out);
    let refused = Outcome::NotInspected {
        reason: "encrypted PDF".into(),
    };
    let json = serde_json::to_string(&refused).unwrap();
    assert_eq!(serde_json::from_str::<Outcome>(&json).unwrap(), refused);
}

// ---- hostile input ----------------------------------------------------------------

mod arbitrary_bytes {
    use super::*;
    use proptest::prelude::*;

    fn formats() -> impl Strategy<Value = (&'static str, Option<&'static str>)> {
        prop::sample::select(vec![
            ("a.txt", None),
            ("a.json", None),
            ("a.docx", None),
            ("a.xlsx", None),
            ("a.pptx", None),
            ("a.pdf", None),
            ("blob", None),
            ("x", Some("text/csv")),
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in prop::collection::vec(any::<u8>(), 0..4096),
            chunk in 1usize..600,
            (name, mime) in formats(),
        ) {
            let chunks: Vec<&[u8]> = bytes.chunks(chunk).collect();
            inspect_with(default_inspector(), name, mime, &chunks);
        }

        #[test]
        fn damaged_containers_never_panic(
            seed in 0usize..3,
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
        ) {
            static FILES: std::sync::OnceLock<[Vec<u8>; 3]> = std::sync::OnceLock::new();
            let files = FILES.get_or_init(|| [
                docx("<w:p><w:t>4111111111111111</w:t></w:p>"),
                pdf_with_text(&["card 4111 1111 1111 1111"]),
                zip_of(&[("xl/workbook.xml", b"<w/>"), ("xl/sharedStrings.xml", b"<si><t>x</t></si>")]),
            ]);
            let mut file = files[seed].clone();
            for (at, byte) in flips {
                let i = at.index(file.len());
                file[i] = byte;
            }
            let keep = cut.index(file.len() + 1).max(file.len() / 2);
            inspect("damaged", &[&file[..keep]]);
        }

        #[test]
        fn texts_full_of_near_candidates_never_show_a_match(
            parts in prop::collection::vec(prop::sample::select(vec![
                "4111 1111 1111 1111", "4111111111111112", "-", " ", "\n", "0", "9",
                "123-45-6789", "GB82 WEST 1234 5698 7654 32", "AKIAIOSFODNN7EXAMPLE",
                "a@b.io", "eyJhbGciOiJIUzI1NiJ9.e30.x", "é", "ghp_", "xoxb-1-2",
            ]), 0..200),
            chunk in 1usize..97,
        ) {
            let doc: String = parts.concat();
            let chunks: Vec<&[u8]> = doc.as_bytes().chunks(chunk).collect();
            let whole = inspect_with(default_inspector(), "t.txt", None, &[doc.as_bytes()]);
            let split = inspect_with(default_inspector(), "t.txt", None, &chunks);
            prop_assert_eq!(whole, split);
        }
    }
}

#[test]
fn unnamed_text_is_sniffed_and_json_past_the_limit_is_scanned_as_text() {
    let out = inspect("README", &[b"deploy key AKIAIOSFODNN7EXAMPLE\n"]);
    assert_eq!(found(&out), vec![("aws-access-key-id".to_owned(), 1)]);

    let inspector = limited(Limits {
        max_file_bytes: 100,
        ..Limits::default()
    });
    let mut json = br#"{"card": "4111111111111111", "pad": ""#.to_vec();
    json.extend_from_slice(&[b'x'; 200]);
    json.extend_from_slice(br#""}"#);
    let out = inspect_with(&inspector, "big.json", None, &[&json[..50], &json[50..]]);
    let Outcome::Inspected {
        truncated, bytes, ..
    } = &out
    else {
        panic!("{out:?}");
    };
    assert!(truncated);
    assert_eq!(*bytes, 100);
    assert_eq!(count(&out, "card"), 1);
}

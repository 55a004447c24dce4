//! Which format a file is, and its text for the formats that are not plain text:
//! JSON (keys and string values), Office Open XML (docx, xlsx, pptx: zip + XML) and
//! PDF. Extracted text goes straight into the [`TextScanner`], never into one big
//! string, and every step is bounded: the zip's total uncompressed bytes, each PDF
//! page's decompressed content, the pages read, and the text taken.

use std::borrow::Cow;
use std::io::{BufReader, Cursor, Read};

use quick_xml::events::Event;

use crate::Limits;
use crate::scan::TextScanner;

/// What a file is inspected as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// Plain text, CSV, TSV, XML, YAML, source code: scanned as it arrives.
    Text,
    Json,
    Docx,
    Xlsx,
    Pptx,
    Pdf,
}

impl Format {
    pub fn label(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Docx => "docx",
            Format::Xlsx => "xlsx",
            Format::Pptx => "pptx",
            Format::Pdf => "pdf",
        }
    }
}

/// The result of looking at the name and MIME type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Detected {
    Known(Format),
    /// Nothing said what it is: look at the first bytes.
    Sniff,
    /// A type that is never inspected (shown in the reason).
    Unsupported(String),
}

const GENERIC_MIME: &[&str] = &[
    "application/octet-stream",
    "binary/octet-stream",
    "application/unknown",
    "application/binary",
];

fn from_mime(mime: &str) -> Option<Format> {
    Some(match mime {
        "application/json" | "application/x-ndjson" | "application/ld+json" => Format::Json,
        m if m.ends_with("+json") => Format::Json,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        | "application/vnd.ms-word.document.macroenabled.12" => Format::Docx,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        | "application/vnd.ms-excel.sheet.macroenabled.12" => Format::Xlsx,
        "application/vnd.openxmlformats-officedocument.presentationml.presentation"
        | "application/vnd.ms-powerpoint.presentation.macroenabled.12" => Format::Pptx,
        "application/pdf" | "application/x-pdf" => Format::Pdf,
        m if m.starts_with("text/") => Format::Text,
        m if m.ends_with("+xml") => Format::Text,
        "application/xml"
        | "application/csv"
        | "application/x-yaml"
        | "application/yaml"
        | "application/javascript"
        | "application/x-sh"
        | "application/sql"
        | "application/x-pem-file"
        | "application/toml"
        | "application/x-httpd-php" => Format::Text,
        _ => return None,
    })
}

fn from_extension(name: &str) -> Option<Format> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "txt" | "text" | "csv" | "tsv" | "log" | "md" | "markdown" | "xml" | "yaml" | "yml"
        | "toml" | "ini" | "cfg" | "conf" | "env" | "properties" | "sql" | "sh" | "py" | "js"
        | "ts" | "rb" | "go" | "rs" | "java" | "cs" | "php" | "html" | "htm" | "pem" | "key"
        | "tf" | "tfvars" => Format::Text,
        "json" | "ndjson" | "jsonl" | "geojson" => Format::Json,
        "docx" | "docm" => Format::Docx,
        "xlsx" | "xlsm" => Format::Xlsx,
        "pptx" | "pptm" => Format::Pptx,
        "pdf" => Format::Pdf,
        _ => return None,
    })
}

/// Extensions of media, archives and binaries: never text, so a file named so is not
/// read even when the provider gives no MIME type.
fn media_extension(name: &str) -> Option<String> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    const MEDIA: &[&str] = &[
        "png", "jpg", "jpeg", "gif", "bmp", "tif", "tiff", "webp", "heic", "ico", "psd", "mp3",
        "wav", "flac", "aac", "m4a", "ogg", "mp4", "m4v", "mov", "avi", "mkv", "webm", "wmv",
        "zip", "gz", "tgz", "bz2", "xz", "7z", "rar", "tar", "iso", "dmg", "exe", "dll", "so",
        "bin", "msi", "apk", "jar", "woff", "woff2", "ttf", "otf",
    ];
    MEDIA.contains(&ext.as_str()).then_some(ext)
}

/// MIME type first; a generic or unknown one falls back to the name's extension, and
/// an unknown extension to sniffing. Media types (image, audio, video, font) are never
/// inspected whatever the name says.
pub(crate) fn detect(name: &str, mime: Option<&str>) -> Detected {
    let mime = mime
        .map(|m| {
            m.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|m| !m.is_empty() && !GENERIC_MIME.contains(&m.as_str()));
    if let Some(mime) = &mime {
        if let Some(format) = from_mime(mime) {
            return Detected::Known(format);
        }
        let media = ["image/", "audio/", "video/", "font/", "model/"];
        if media.iter().any(|p| mime.starts_with(p)) {
            return Detected::Unsupported(mime.clone());
        }
    }
    if let Some(format) = from_extension(name) {
        return Detected::Known(format);
    }
    if mime.is_none()
        && let Some(ext) = media_extension(name)
    {
        // Nothing to read in it, and often large: refused before a byte is fetched.
        return Detected::Unsupported(format!("{ext} file"));
    }
    match mime {
        Some(mime) => Detected::Unsupported(mime),
        None => Detected::Sniff,
    }
}

/// What the first bytes say (at most [`SNIFF_BYTES`] of them).
pub(crate) const SNIFF_BYTES: usize = 8 * 1024;

pub(crate) enum Sniffed {
    Known(Format),
    /// A zip whose members decide (OOXML or not): resolved when it is all read.
    Zip,
    Unsupported(&'static str),
}

pub(crate) fn sniff(head: &[u8]) -> Sniffed {
    if head.starts_with(b"PK\x03\x04") {
        return Sniffed::Zip;
    }
    if memchr::memmem::find(&head[..head.len().min(1024)], b"%PDF-").is_some() {
        return Sniffed::Known(Format::Pdf);
    }
    if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Sniffed::Unsupported("legacy or encrypted Office file");
    }
    // Text: no NUL and valid UTF-8, allowing one character cut at the end.
    let valid = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    };
    if !valid || head.contains(&0) {
        return Sniffed::Unsupported("application/octet-stream");
    }
    let first = head.iter().find(|b| !b.is_ascii_whitespace());
    if matches!(first, Some(b'{' | b'[')) {
        Sniffed::Known(Format::Json)
    } else {
        Sniffed::Known(Format::Text)
    }
}

/// JSON: the keys and string values, each on its own line, so escapes (`\u0034`,
/// `\/`) do not hide what they encode and structure does not glue values together.
/// Returns false when the bytes are not one JSON document (JSON Lines, broken or
/// nested past serde_json's depth limit): the caller then scans them as text.
pub(crate) fn json(buf: &[u8], scanner: &mut TextScanner) -> bool {
    use serde::de::{DeserializeSeed, Deserializer as _, MapAccess, SeqAccess, Visitor};

    struct Strings<'s>(&'s mut TextScanner);

    impl<'de> DeserializeSeed<'de> for Strings<'_> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Strings<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_str<E>(self, v: &str) -> Result<(), E> {
            self.0.push(v.as_bytes());
            self.0.push(b"\n");
            Ok(())
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, v: i64) -> Result<(), E> {
            self.0.push(format!("{v}\n").as_bytes());
            Ok(())
        }
        fn visit_u64<E>(self, v: u64) -> Result<(), E> {
            self.0.push(format!("{v}\n").as_bytes());
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(Strings(&mut *self.0))?.is_some() {}
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while map.next_key_seed(Strings(&mut *self.0))?.is_some() {
                map.next_value_seed(Strings(&mut *self.0))?;
            }
            Ok(())
        }
    }

    // Parse once without scanning, so a document that turns out broken halfway is
    // scanned as text only, never partly twice.
    if serde_json::from_slice::<serde::de::IgnoredAny>(buf).is_err() {
        return false;
    }
    let mut de = serde_json::Deserializer::from_slice(buf);
    de.deserialize_any(Strings(scanner)).is_ok()
}

/// Why a container was not inspected.
pub(crate) type Refusal = String;

/// A reader that fails once more than `left` bytes came through it: every byte
/// decompressed from a zip is read through one, so the total is capped however the
/// archive lies about sizes.
struct Budget<'a, R> {
    inner: R,
    left: &'a mut u64,
}

impl<R: Read> Read for Budget<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        if n as u64 > *self.left {
            return Err(std::io::Error::other(ZipBomb));
        }
        *self.left -= n as u64;
        Ok(n)
    }
}

#[derive(Debug)]
struct ZipBomb;

impl std::fmt::Display for ZipBomb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("uncompressed limit")
    }
}

impl std::error::Error for ZipBomb {}

/// The members of an OOXML package that hold its text, in reading order.
fn ooxml_parts(format: Format, names: &[String]) -> Vec<String> {
    let wanted = |n: &str| match format {
        Format::Docx => {
            n == "word/document.xml"
                || n == "word/footnotes.xml"
                || n == "word/endnotes.xml"
                || n == "word/comments.xml"
                || (n.starts_with("word/header") || n.starts_with("word/footer"))
                    && n.ends_with(".xml")
        }
        Format::Xlsx => {
            n == "xl/sharedStrings.xml"
                || (n.starts_with("xl/worksheets/") || n.starts_with("xl/comments"))
                    && n.ends_with(".xml")
                    && !n.contains("/_rels/")
        }
        Format::Pptx => {
            (n.starts_with("ppt/slides/") || n.starts_with("ppt/notesSlides/"))
                && n.ends_with(".xml")
                && !n.contains("/_rels/")
        }
        _ => false,
    };
    let mut parts: Vec<String> = names.iter().filter(|n| wanted(n)).cloned().collect();
    // slide2 before slide10.
    parts.sort_by_key(|n| {
        let stem = n.strip_suffix(".xml").unwrap_or(n);
        let digits_at = stem.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        (
            stem[..digits_at].to_owned(),
            stem[digits_at..].parse::<u64>().unwrap_or(0),
        )
    });
    parts
}

/// Which OOXML kind a zip is, from its members (for files sniffed as zip).
pub(crate) fn ooxml_kind(buf: &[u8]) -> Option<Format> {
    let archive = zip::ZipArchive::new(Cursor::new(buf)).ok()?;
    let names: Vec<&[u8]> = archive.file_names_raw().collect();
    let has = |n: &[u8]| names.contains(&n);
    if has(b"word/document.xml") {
        Some(Format::Docx)
    } else if has(b"xl/workbook.xml") {
        Some(Format::Xlsx)
    } else if has(b"ppt/presentation.xml") {
        Some(Format::Pptx)
    } else {
        None
    }
}

/// Office Open XML: the text of the parts that hold it, paragraphs, cells and rows
/// each ending a line, runs within a paragraph joined (Word splits runs anywhere, even
/// inside a number).
pub(crate) fn ooxml(
    format: Format,
    buf: &[u8],
    limits: &Limits,
    scanner: &mut TextScanner,
) -> Result<(), Refusal> {
    let label = format.label();
    if buf.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Err(format!("encrypted or legacy {label} (OLE container)"));
    }
    let corrupt = |e: &dyn std::fmt::Display| format!("corrupt {label}: {e}");
    let mut archive = zip::ZipArchive::new(Cursor::new(buf)).map_err(|e| corrupt(&e))?;
    if archive.len() > limits.max_zip_entries {
        return Err(format!(
            "{label} has {} zip entries, over the {} limit",
            archive.len(),
            limits.max_zip_entries
        ));
    }
    let names: Vec<String> = archive
        .file_names()
        .filter_map(|n| n.ok().map(Cow::into_owned))
        .collect();
    let parts = ooxml_parts(format, &names);
    if parts.is_empty() {
        return Err(corrupt(&"no text parts"));
    }
    let mut left = limits.max_uncompressed_bytes;
    for part in parts {
        let file = archive.by_name(&part).map_err(|e| {
            if e.to_string().to_ascii_lowercase().contains("password") {
                format!("encrypted {label}")
            } else {
                corrupt(&e)
            }
        })?;
        let reader = BufReader::new(Budget {
            inner: file,
            left: &mut left,
        });
        match xml_text(reader, scanner) {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(e) if e.contains("uncompressed limit") => {
                return Err(format!(
                    "zip bomb: {label} expands past the {} uncompressed limit",
                    crate::human_bytes(limits.max_uncompressed_bytes)
                ));
            }
            Err(e) => return Err(corrupt(&e)),
        }
        scanner.push(b"\n");
    }
    Ok(())
}

/// Streams one XML part's text into the scanner; false once the text limit is hit.
fn xml_text<R: std::io::BufRead>(reader: R, scanner: &mut TextScanner) -> Result<bool, String> {
    let mut xml = quick_xml::Reader::from_reader(reader);
    let mut event = Vec::new();
    // Cells of xlsx shared-string type hold an index, not text.
    let mut in_value = false;
    let mut skip_value = false;
    let mut shared_cell = false;
    loop {
        event.clear();
        let more = match xml.read_event_into(&mut event).map_err(|e| e.to_string())? {
            Event::Eof => return Ok(true),
            Event::Start(e) => {
                match e.local_name().as_ref() {
                    b"c" => {
                        shared_cell = e
                            .attributes()
                            .flatten()
                            .any(|a| a.key.as_ref() == b"t" && a.value.as_ref() == b"s");
                    }
                    b"v" => {
                        in_value = true;
                        skip_value = shared_cell;
                    }
                    _ => {}
                }
                true
            }
            Event::Empty(e) => match e.local_name().as_ref() {
                b"tab" => scanner.push(b"\t"),
                b"br" | b"cr" => scanner.push(b"\n"),
                _ => true,
            },
            Event::End(e) => match e.local_name().as_ref() {
                b"p" | b"si" | b"c" | b"row" | b"tr" | b"tc" | b"txBody" => scanner.push(b"\n"),
                b"v" => {
                    in_value = false;
                    skip_value = false;
                    true
                }
                _ => true,
            },
            Event::Text(t) => {
                if in_value && skip_value {
                    true
                } else {
                    let text = t.decode().map_err(|e| e.to_string())?;
                    scanner.push(text.as_bytes())
                }
            }
            Event::CData(t) => scanner.push(&t),
            Event::GeneralRef(r) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    scanner.push(c.encode_utf8(&mut [0; 4]).as_bytes())
                } else {
                    let name = r.decode().map_err(|e| e.to_string())?;
                    match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(s) => scanner.push(s.as_bytes()),
                        None => true,
                    }
                }
            }
            _ => true,
        };
        if !more {
            return Ok(false);
        }
    }
}

/// PDF text page by page, through lopdf. Encrypted files that need a password are
/// refused; each page's decompressed content is bounded, and at most
/// `limits.max_pdf_pages` pages are read.
pub(crate) fn pdf(buf: &[u8], limits: &Limits, scanner: &mut TextScanner) -> Result<(), Refusal> {
    let doc = match lopdf::Document::load_mem(buf) {
        Ok(doc) => doc,
        Err(e) => {
            if memchr::memmem::find(buf, b"/Encrypt").is_some() {
                return Err("encrypted PDF".to_owned());
            }
            return Err(format!("corrupt pdf: {e}"));
        }
    };
    if doc.is_encrypted() && !doc.was_encrypted() {
        return Err("encrypted PDF".to_owned());
    }
    let pages = doc.get_pages();
    if pages.len() > limits.max_pdf_pages {
        scanner.mark_truncated();
    }
    let page_limit = usize::try_from(limits.max_uncompressed_bytes).unwrap_or(usize::MAX);
    for page_id in pages.into_values().take(limits.max_pdf_pages) {
        let mut text = String::new();
        // A page whose text cannot be read (an unsupported font encoding, a content
        // stream over the limit) is skipped; the rest of the document still counts.
        if pdf_page_text(&doc, page_id, page_limit, &mut text).is_err() {
            scanner.mark_truncated();
        }
        if !scanner.push(text.as_bytes()) || !scanner.push(b"\n") {
            break;
        }
    }
    Ok(())
}

/// One page's text in content order. Unlike lopdf's `extract_text`, a move to another
/// line (`Td`/`TD` with a vertical offset, `Tm`, `T*`, `BT`/`ET`) ends a line, so text
/// on separate lines is not glued into one token ("…1111Thank").
fn pdf_page_text(
    doc: &lopdf::Document,
    page_id: lopdf::ObjectId,
    limit: usize,
    out: &mut String,
) -> lopdf::Result<()> {
    use lopdf::Object;
    let encodings: std::collections::BTreeMap<Vec<u8>, lopdf::Encoding> = doc
        .get_page_fonts(page_id)?
        .into_iter()
        .filter_map(|(name, font)| {
            Some((name, font.get_font_encoding_with_limit(doc, limit).ok()?))
        })
        .collect();
    let content =
        lopdf::content::Content::decode(&doc.get_page_content_with_limit(page_id, limit)?)?;
    let mut encoding = None;
    fn show(encoding: Option<&lopdf::Encoding>, operands: &[Object], out: &mut String) {
        let Some(encoding) = encoding else { return };
        for operand in operands {
            match operand {
                Object::String(bytes, _) => {
                    if let Ok(s) = lopdf::Document::decode_text(encoding, bytes) {
                        out.push_str(&s);
                    }
                }
                Object::Array(items) => show(Some(encoding), items, out),
                // A large negative kern in a TJ array is a word gap.
                Object::Integer(i) if *i < -100 => out.push(' '),
                Object::Real(r) if *r < -100.0 => out.push(' '),
                _ => {}
            }
        }
    }
    for op in &content.operations {
        match op.operator.as_str() {
            "Tf" => {
                encoding = op
                    .operands
                    .first()
                    .and_then(|o| o.as_name().ok())
                    .and_then(|n| encodings.get(n));
            }
            "Tj" | "TJ" => show(encoding, &op.operands, out),
            "'" => {
                out.push('\n');
                show(encoding, &op.operands, out);
            }
            "\"" => {
                out.push('\n');
                show(encoding, op.operands.get(2..).unwrap_or(&[]), out);
            }
            "Td" | "TD" => {
                let dy = op
                    .operands
                    .get(1)
                    .and_then(|o| o.as_float().ok())
                    .unwrap_or(0.0);
                out.push(if dy == 0.0 { ' ' } else { '\n' });
            }
            "T*" | "Tm" | "BT" | "ET" => out.push('\n'),
            _ => {}
        }
    }
    Ok(())
}

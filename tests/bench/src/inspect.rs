//! Content inspection throughput (issue 25): plain text through `sluice-inspect` with
//! every built-in classifier on, fed in 256 KiB chunks as the host reads files, on two
//! corpora: a CSV export with an email address on every line (a candidate every ~170
//! bytes, the hard case) and prose with a few numbers. Each corpus holds a card number
//! and an AWS key id every 1,000 lines, so the classifiers have something to find.

use std::time::Instant;

use sluice_inspect::{Builtin, Config, Inspector, Outcome};

use crate::Row;

/// A corpus of about `bytes` bytes of `line(n)` lines, with sensitive lines sprinkled in.
fn corpus(bytes: usize, line: impl Fn(u32) -> String) -> Vec<u8> {
    let mut doc = Vec::with_capacity(bytes + 256);
    let mut n = 0u32;
    while doc.len() < bytes {
        n += 1;
        doc.extend_from_slice(line(n).as_bytes());
        if n.is_multiple_of(1000) {
            doc.extend_from_slice(b"card 4111 1111 1111 1111 key AKIAIOSFODNN7EXAMPLE\n");
        }
    }
    doc
}

/// MB/s of one inspection of `doc` with `builtins` on, and the hits it found.
fn measure(doc: &[u8], builtins: Vec<Builtin>) -> anyhow::Result<(f64, u64)> {
    let inspector = Inspector::new(Config {
        builtins,
        ..Config::default()
    })?;
    let started = Instant::now();
    let mut inspection = inspector.start("doc.txt", None);
    for chunk in doc.chunks(256 << 10) {
        inspection.feed(chunk);
    }
    let out = inspection.finish();
    let secs = started.elapsed().as_secs_f64();
    let hits = match out {
        Outcome::Inspected { hits, .. } => hits.iter().map(|h| h.count).sum(),
        Outcome::NotInspected { reason } => anyhow::bail!("not inspected: {reason}"),
    };
    Ok((doc.len() as f64 / secs / 1e6, hits))
}

pub fn run(quick: bool) -> anyhow::Result<Vec<Row>> {
    let size = if quick { 8 << 20 } else { 64 << 20 };
    let csv = corpus(size, |n| {
        format!(
            "{n},2026-01-05,Order for ACME Corp shipped to 12 Main Street, Springfield; \
             contact jane.doe{}@example.com, ref INV-{n:08}, total 1234.56 USD\n",
            n % 50
        )
    });
    let prose = corpus(size, |n| {
        format!(
            "In {n} cases the committee reviewed the quarterly report and found that \
             revenue rose 4.5% to 1,234 million while costs fell; see section {n}.\n"
        )
    });
    let mut rows = Vec::new();
    for (label, doc) in [("CSV, an email per line", &csv), ("prose", &prose)] {
        let (all, hits) = measure(doc, Builtin::ALL.to_vec())?;
        // The cheapest useful inspection, for scale: one classifier with a fixed prefix.
        let (one, _) = measure(doc, vec![Builtin::AwsAccessKeyId])?;
        rows.push(
            Row::new(
                "inspect",
                format!("plain text, {label}: every built-in classifier vs AWS key ids alone"),
                all,
                "MB/s",
            )
            .against(one)
            .note(format!(
                "one core, {} MiB in 256 KiB chunks, {hits} hits; goal ≥ 300 MB/s with every built-in",
                doc.len() >> 20
            )),
        );
    }
    Ok(rows)
}

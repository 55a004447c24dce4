//! Activities in blocks: one sled value per committed page instead of one per event.
//!
//! A sled insert costs about the same whether its value holds 50 bytes or a page of
//! events (≈7 µs on the 2-core development machine), so one key per event capped ingest
//! near 140k events/s before any other work; one key per page lifts that ceiling about
//! fivefold (see `just bench --only storage`).
//!
//! Layout, inside the `records` tree:
//! - `instance \0 activities \0 <pos of the block's newest event>` → block, where an
//!   event's *pos* is `time(be, 8) \0 id` (times before the epoch as the epoch). A
//!   block value is [`BLOCK_LZ4`], the number of entries and the length of the
//!   entries uncompressed (u32 LE each), then the entries as one LZ4 block: in
//!   ascending pos order, each entry's pos and its [`StoredRecord`] JSON, both
//!   prefixed by their length (u32 LE). The events of a page repeat field names and
//!   values, so a block compresses several times over: fewer bytes through sled's
//!   log, on disk and in its cache.
//! - A value that starts with `{` is one event as older stores wrote it, under its own
//!   pos: a block of one. Those stores read as they are, with no migration.
//! - `0x03 instance \0 activities` → the widest time span (ms, i64 BE) of any block of
//!   the instance. Blocks are keyed by their newest event, so a block that may hold an
//!   event at time `t` has its key between `t` and `t + span`; without the span, finding
//!   one event would mean reading every block. A block spans at most an hour (a page
//!   whose events spread wider becomes several), so one sparse page cannot make every
//!   later lookup read a month of blocks.
//!
//! Events are unique by pos, as they were when each had its own key: a page that
//! re-reads events already stored (an overlap window, a page retried after a crash)
//! keeps only the new ones.

use std::collections::{BTreeMap, BinaryHeap};
use std::ops::Range;

use super::{
    CommitCaps, SEP, Store, StoreError, StoredRecord, StoredRecordRef, from_json, prefix,
    prefix_end, tagged,
};
use crate::model::{Kind, Millis, Record};

/// First byte of a block value (older single-event values start with `{`).
const BLOCK_LZ4: u8 = 0x01;
/// Block header: the tag, the entry count and the entries' uncompressed length.
const HEADER: usize = 9;
/// The widest time range one block may cover (1 hour). A page whose events spread
/// wider is stored as several blocks.
const MAX_BLOCK_SPAN: Millis = 3_600_000;
/// Key-space tag of the per-instance block span (see the module docs).
pub(super) const SPAN_TAG: u8 = 0x03;

fn activities_prefix(instance_id: &str) -> Vec<u8> {
    prefix(&[instance_id.as_bytes(), Kind::Activities.as_str().as_bytes()])
}

fn span_key(instance_id: &str) -> Vec<u8> {
    let mut k = activities_prefix(instance_id);
    k.pop(); // `instance \0 activities`, like the scan-state keys
    tagged(SPAN_TAG, k)
}

/// An event's position: `time(be) \0 id`, the order activities are listed in.
///
/// A time before the epoch counts as the epoch: a negative time's big-endian bytes sort
/// after every positive one, outside every time range read here, so such an event was
/// listed as the newest and a later page could overwrite the block holding it.
fn pos(time: Millis, id: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(9 + id.len());
    p.extend_from_slice(&time.max(0).to_be_bytes());
    p.push(SEP);
    p.extend_from_slice(id.as_bytes());
    p
}

/// The time at the start of a pos (or of a bare `time(be)` bound).
fn pos_time(pos: &[u8]) -> Result<Millis, StoreError> {
    match pos.get(..8) {
        Some(b) => Ok(Millis::from_be_bytes(b.try_into().unwrap())),
        None => Err(StoreError::Corrupt("activity key".into())),
    }
}

/// `prefix ++ time(be)`: the first key at or after `time`, or the end of the prefix
/// when `time` does not fit.
fn time_bound(prefix: &[u8], time: Option<Millis>) -> Vec<u8> {
    match time {
        Some(t) if t >= 0 => [prefix, &t.to_be_bytes()].concat(),
        _ => prefix_end(prefix),
    }
}

/// One entry of a block: byte ranges of its pos and its JSON in the block's bytes.
struct Entry {
    /// `None`: the entry is a single event stored under its own key.
    pos: Option<Range<usize>>,
    json: Range<usize>,
}

/// A block's entries, uncompressed.
#[derive(Clone)]
enum Bytes {
    /// An older single-event value, as sled returned it.
    Stored(sled::IVec),
    Inflated(std::sync::Arc<Vec<u8>>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Stored(v) => v,
            Bytes::Inflated(v) => v,
        }
    }
}

struct Block {
    bytes: Bytes,
    entries: Vec<Entry>,
}

fn u32_at(b: &[u8], at: usize) -> Option<usize> {
    b.get(at..at + 4)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap()) as usize)
}

impl Block {
    /// The block stored under `key_pos`.
    fn read(key_pos: &[u8], value: sled::IVec) -> Result<Block, StoreError> {
        let corrupt = || StoreError::Corrupt(format!("activity block at {key_pos:x?}"));
        match value.first() {
            Some(b'{') => Ok(Block {
                entries: vec![Entry {
                    pos: None,
                    json: 0..value.len(),
                }],
                bytes: Bytes::Stored(value),
            }),
            Some(&BLOCK_LZ4) => {
                let (count, raw_len) = block_header(&value).ok_or_else(corrupt)?;
                let raw = lz4_flex::block::decompress(&value[HEADER..], raw_len)
                    .map_err(|_| corrupt())?;
                // A length-prefixed field at `at`; moves `at` past it.
                let field = |at: &mut usize| -> Option<Range<usize>> {
                    let r = *at + 4..*at + 4 + u32_at(&raw, *at)?;
                    (r.end <= raw.len()).then(|| {
                        *at = r.end;
                        r
                    })
                };
                let mut at = 0;
                let mut entries = Vec::with_capacity(count.min(raw.len() / 8));
                for _ in 0..count {
                    let pos = field(&mut at).ok_or_else(corrupt)?;
                    let json = field(&mut at).ok_or_else(corrupt)?;
                    entries.push(Entry {
                        pos: Some(pos),
                        json,
                    });
                }
                Ok(Block {
                    bytes: Bytes::Inflated(std::sync::Arc::new(raw)),
                    entries,
                })
            }
            _ => Err(corrupt()),
        }
    }

    fn pos<'a>(&'a self, e: &Entry, key_pos: &'a [u8]) -> &'a [u8] {
        match &e.pos {
            Some(r) => &self.bytes[r.clone()],
            None => key_pos,
        }
    }
}

/// Each event's stored JSON in the block under `key_pos`, for tests that look at the
/// bytes on disk.
#[cfg(test)]
pub(super) fn stored_json(key_pos: &[u8], value: sled::IVec) -> Vec<Vec<u8>> {
    let block = Block::read(key_pos, value).unwrap();
    block
        .entries
        .iter()
        .map(|e| block.bytes[e.json.clone()].to_vec())
        .collect()
}

/// `(entries, uncompressed length)` from a block's header.
fn block_header(value: &[u8]) -> Option<(usize, usize)> {
    Some((u32_at(value, 1)?, u32_at(value, 5)?))
}

/// Entries in ascending pos order, as one compressed block value, and their
/// uncompressed length.
fn encode_block<'a>(
    entries: impl ExactSizeIterator<Item = (&'a [u8], &'a Record)>,
    now: Millis,
) -> Result<(Vec<u8>, usize), StoreError> {
    let count = entries.len();
    let mut raw = Vec::with_capacity(count * 768);
    for (pos, r) in entries {
        put_len(&mut raw, pos.len())?;
        raw.extend_from_slice(pos);
        let len_at = raw.len();
        raw.extend_from_slice(&[0; 4]);
        let stored = StoredRecordRef {
            generation: 0,
            deleted: false,
            deleted_at: None,
            first_seen: now,
            last_seen: now,
            record: r,
        };
        serde_json::to_writer(&mut raw, &stored).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let n = u32_len(raw.len() - len_at - 4)?;
        raw[len_at..len_at + 4].copy_from_slice(&n.to_le_bytes());
    }
    let packed = lz4_flex::block::compress(&raw);
    let mut block = Vec::with_capacity(HEADER + packed.len());
    block.push(BLOCK_LZ4);
    put_len(&mut block, count)?;
    put_len(&mut block, raw.len())?;
    block.extend_from_slice(&packed);
    Ok((block, raw.len()))
}

fn u32_len(n: usize) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| StoreError::Corrupt("activity block over 4 GiB".into()))
}

fn put_len(out: &mut Vec<u8>, n: usize) -> Result<(), StoreError> {
    out.extend_from_slice(&u32_len(n)?.to_le_bytes());
    Ok(())
}

/// An event waiting in [`ActivitiesDesc`]'s merge, ordered by pos.
struct Pending {
    pos: Vec<u8>,
    block: Bytes,
    json: Range<usize>,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.pos == other.pos
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.pos.cmp(&other.pos)
    }
}

/// An instance's events newest first (by pos), within bounds.
///
/// Blocks come in descending key order, but two blocks' time ranges may interleave (a
/// provider's pages need not be disjoint in time), so events pass through a heap: the
/// newest pending event is emitted once no unread block can hold a newer one, that is
/// once the next block's key (its newest pos) is older.
pub(super) struct ActivitiesDesc {
    prefix_len: usize,
    blocks: std::iter::Peekable<std::iter::Rev<sled::Iter>>,
    heap: BinaryHeap<Pending>,
    /// Events at or after this pos (empty: no bound).
    lower: Vec<u8>,
    /// Events strictly before this pos.
    upper: Option<Vec<u8>>,
    last: Option<Vec<u8>>,
}

impl Iterator for ActivitiesDesc {
    /// The event's pos (the query cursor) and the event.
    type Item = Result<(Vec<u8>, StoredRecord), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let next_key = match self.blocks.peek() {
                Some(Ok((k, _))) => Some(k.subslice(self.prefix_len, k.len() - self.prefix_len)),
                Some(Err(_)) => {
                    let Some(Err(e)) = self.blocks.next() else {
                        unreachable!()
                    };
                    return Some(Err(e.into()));
                }
                None => None,
            };
            match (self.heap.peek(), &next_key) {
                (None, None) => return None,
                (Some(top), k) if k.as_ref().is_none_or(|k| k.as_ref() < top.pos.as_slice()) => {
                    let p = self.heap.pop().expect("peeked");
                    if self.last.as_ref() == Some(&p.pos) {
                        continue; // the same event in two blocks: list it once
                    }
                    let r = from_json::<StoredRecord>(&p.block[p.json.clone()]);
                    self.last = Some(p.pos.clone());
                    return Some(r.map(|r| (p.pos, r)));
                }
                _ => {}
            }
            let Some(Ok((k, v))) = self.blocks.next() else {
                unreachable!("peeked a block")
            };
            let key_pos = &k[self.prefix_len..];
            let block = match Block::read(key_pos, v) {
                Ok(b) => b,
                Err(e) => return Some(Err(e)),
            };
            for e in &block.entries {
                let p = block.pos(e, key_pos);
                if p < self.lower.as_slice() || self.upper.as_deref().is_some_and(|u| p >= u) {
                    continue;
                }
                self.heap.push(Pending {
                    pos: p.to_vec(),
                    block: block.bytes.clone(),
                    json: e.json.clone(),
                });
            }
        }
    }
}

impl Store {
    /// The time of the instance's newest stored event, if any (blocks are keyed by
    /// their newest event, so this is the last key).
    pub fn newest_activity_time(&self, instance_id: &str) -> Result<Option<Millis>, StoreError> {
        let prefix = activities_prefix(instance_id);
        match self.t()?.records.scan_prefix(&prefix).next_back() {
            Some(entry) => Ok(Some(pos_time(&entry?.0[prefix.len()..])?)),
            None => Ok(None),
        }
    }

    /// The widest time span of any activity block of the instance (0 when none).
    pub(super) fn activity_span(&self, instance_id: &str) -> Result<Millis, StoreError> {
        Ok(match self.t()?.records.get(span_key(instance_id))? {
            Some(v) if v.len() == 8 => Millis::from_be_bytes(v.as_ref().try_into().unwrap()),
            Some(_) => return Err(StoreError::Corrupt("activity span".into())),
            None => 0,
        })
    }

    /// Events of an instance newest first: at or after `since`, and strictly before
    /// `before` (a pos, as returned alongside each event).
    pub(super) fn activities_desc(
        &self,
        instance_id: &str,
        since: Option<Millis>,
        before: Option<Vec<u8>>,
    ) -> Result<ActivitiesDesc, StoreError> {
        let p = activities_prefix(instance_id);
        let lower = since
            .map(|s| s.max(0).to_be_bytes().to_vec())
            .unwrap_or_default();
        // A block holding an event before `before` is keyed at most `span` later.
        let hi_time = match &before {
            Some(b) => {
                let t = pos_time(b)?;
                t.checked_add(self.activity_span(instance_id)?)
                    .and_then(|t| t.checked_add(1))
            }
            None => None,
        };
        let lo = [p.as_slice(), &lower].concat();
        let hi = time_bound(&p, hi_time);
        let blocks = if lo < hi {
            self.t()?.records.range(lo..hi)
        } else {
            self.t()?.records.range(hi.clone()..hi)
        };
        Ok(ActivitiesDesc {
            prefix_len: p.len(),
            blocks: blocks.rev().peekable(),
            heap: BinaryHeap::new(),
            lower,
            upper: before,
            last: None,
        })
    }

    /// Number of events stored for the instance.
    pub(super) fn count_activities(&self, instance_id: &str) -> Result<u64, StoreError> {
        let p = activities_prefix(instance_id);
        let mut n = 0;
        for v in self.t()?.records.scan_prefix(&p).values() {
            let v = v?;
            n += match v.first() {
                Some(b'{') => 1,
                _ => {
                    block_header(&v)
                        .ok_or_else(|| StoreError::Corrupt("activity block".into()))?
                        .0 as u64
                }
            };
        }
        Ok(n)
    }

    /// Store a page of events as one block, leaving out events already stored.
    ///
    /// Plain inserts, not a batch: sled's `apply_batch` writes its IO buffer out twice
    /// (each a `pwrite` and a `sync_file_range` that waits for the disk) to make the
    /// batch recover atomically, which cost more than all the rest of a page's commit.
    /// Atomicity is not needed here. sled recovers a prefix of its log, so a write is
    /// recovered only with every write made before it, and the writes go in an order
    /// where every prefix is safe: a wider span first (a span too wide only makes
    /// lookups read more), then the blocks; the caller writes the scan's cursor last.
    /// A crash before the cursor leaves blocks that the resumed scan re-reads, and
    /// events already stored are left out.
    /// Returns the bytes the new blocks add to the instance (`usage` before them),
    /// within `caps`.
    pub(super) fn insert_activities(
        &self,
        instance_id: &str,
        records: &[Record],
        now: Millis,
        usage: u64,
        caps: &CommitCaps,
    ) -> Result<u64, StoreError> {
        // Ascending by pos; a later copy of one event in the page wins, as a later
        // insert of its key used to.
        let mut new: BTreeMap<Vec<u8>, &Record> = records
            .iter()
            .map(|r| (pos(r.time().unwrap_or(0), r.id()), r))
            .collect();
        let (Some(first), Some(last)) = (new.keys().next(), new.keys().next_back()) else {
            return Ok(0);
        };
        let (min_t, max_t) = (pos_time(first)?, pos_time(last)?);
        let span = self.activity_span(instance_id)?;
        // Every block that may hold one of these events: keyed in [min_t, max_t + span].
        let p = activities_prefix(instance_id);
        let lo = time_bound(&p, Some(min_t));
        let hi = time_bound(&p, max_t.checked_add(span).and_then(|t| t.checked_add(1)));
        if lo < hi {
            for item in self.t()?.records.range(lo..hi) {
                let (k, v) = item?;
                let key_pos = &k[p.len()..];
                let block = Block::read(key_pos, v)?;
                for e in &block.entries {
                    new.remove(block.pos(e, key_pos));
                }
                if new.is_empty() {
                    return Ok(0);
                }
            }
        }
        // Blocks span at most MAX_BLOCK_SPAN each, so the span, and with it what a
        // lookup reads, stays bounded however sparse a page's events are.
        let mut widest = span;
        let mut blocks = Vec::new();
        let mut page_bytes = 0u64;
        let mut group: Vec<(&[u8], &Record)> = Vec::new();
        let mut start = 0;
        let mut entries = new.iter().peekable();
        while let Some((pos, r)) = entries.next() {
            let t = pos_time(pos)?;
            if group.is_empty() {
                start = t;
            }
            group.push((pos.as_slice(), *r));
            let ends = match entries.peek() {
                Some((next, _)) => pos_time(next)?.saturating_sub(start) > MAX_BLOCK_SPAN,
                None => true,
            };
            if ends {
                widest = widest.max(t.saturating_sub(start));
                let block_key = [p.as_slice(), pos].concat();
                let (block, raw_len) = encode_block(group.drain(..), now)?;
                page_bytes += raw_len as u64;
                blocks.push((block_key, block));
            }
        }
        let added: u64 = blocks.iter().map(|(k, b)| (k.len() + b.len()) as u64).sum();
        caps.admit(page_bytes, usage, added as i64)?;
        if widest > span {
            self.t()?
                .records
                .insert(span_key(instance_id), &widest.to_be_bytes())?;
        }
        for (key, block) in blocks {
            self.t()?.records.insert(key, block)?;
        }
        Ok(added)
    }
}

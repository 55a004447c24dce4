//! Content inspection (DLP) of an instance's files, run by the host after a files scan.
//!
//! The connector never sees a classifier: the host reads each file's content through
//! the connector's `read-file`, in chunks of at most [`MAX_FILE_CHUNK`], and feeds them
//! to [`sluice_inspect`]. What bounds the work:
//!
//! - **Versions.** A result is stored per file with the version it was made for
//!   ([`file_version`]: the provider's content hash, else modified time and size). A
//!   file whose listed version was inspected before is not read again, so a rescan of
//!   an unchanged tenant reads no content.
//! - **Types.** A file the inspector cannot read (an image, a video, an archive) is
//!   recorded as `not inspected (type)` before a byte is read.
//! - **Per file.** The inspector's limits (bytes read, text scanned, bytes
//!   decompressed, zip entries, PDF pages) and a deadline ([`InspectOptions::file_time`]).
//!   Extraction from a container (docx, xlsx, pptx, PDF) cannot be interrupted, so it
//!   runs on a blocking thread the deadline stops waiting for; the thread holds a permit
//!   of the host-wide pool until it ends, so hostile files cannot pile up threads.
//! - **Per instance and run.** A byte budget and a time budget: files left over are
//!   `pending` and come first in no particular order next run (they are the ones with
//!   no result for their version).
//! - **Host-wide.** [`InspectOptions::workers`] permits: at most that many files are
//!   parsed at once across all instances.
//!
//! A read that fails leaves the file without a result (it is retried next run); one
//! that says the file is gone skips it (the next scan marks it deleted); bad
//! credentials or throttling that outlasted the host's retries stop the run.

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use sluice_inspect::{Config, Inspector, Outcome};
use tokio::sync::Semaphore;

use crate::model::{Capability, ConnectorError, File, FileChunk, InspectReport, now_millis};
use crate::runtime::{CallContext, LoadedPlugin, MAX_FILE_CHUNK};
use crate::store::{FileInspection, Store, StoreError, file_version};

/// How inspection runs. Cheap to clone (the inspector and pool are shared).
#[derive(Clone, Debug)]
pub struct InspectOptions {
    /// Off: files are listed but their content is never read.
    pub enabled: bool,
    /// The classifiers and per-file limits.
    pub inspector: Inspector,
    /// Bytes asked per `read-file` call (at most [`MAX_FILE_CHUNK`]).
    pub chunk_bytes: u32,
    /// Files of one instance read at once.
    pub files_at_once: usize,
    /// Content bytes one instance's run may read; the rest waits for the next run.
    pub run_bytes: u64,
    /// Time one instance's run may take.
    pub run_time: Duration,
    /// Time one file may take, reading and extraction together.
    pub file_time: Duration,
    /// Host-wide bound on files being parsed at once (shared by every instance).
    pub workers: Arc<Semaphore>,
}

/// The default inspector, compiled once per process.
static DEFAULT_INSPECTOR: LazyLock<Inspector> =
    LazyLock::new(|| Inspector::new(Config::default()).expect("the default config is valid"));

impl Default for InspectOptions {
    fn default() -> Self {
        InspectOptions {
            enabled: true,
            inspector: DEFAULT_INSPECTOR.clone(),
            chunk_bytes: MAX_FILE_CHUNK,
            files_at_once: 2,
            run_bytes: 2 << 30,
            run_time: Duration::from_secs(15 * 60),
            file_time: Duration::from_secs(120),
            workers: Arc::new(Semaphore::new(default_workers())),
        }
    }
}

/// One worker per core, at least one.
fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl InspectOptions {
    /// Options with the inspector built from `config` (an operator's classifiers and
    /// limits).
    pub fn with_config(config: Config) -> Result<InspectOptions, sluice_inspect::ConfigError> {
        Ok(InspectOptions {
            inspector: Inspector::new(config)?,
            ..InspectOptions::default()
        })
    }
}

/// Reads file content (the plugin; a script in tests).
pub trait ContentReader: Sync {
    fn read(
        &self,
        ctx: CallContext,
        id: &str,
        offset: u64,
        length: u32,
    ) -> impl Future<Output = Result<FileChunk, ConnectorError>> + Send;
    /// Whether the connector can hand over content at all.
    fn reads_content(&self) -> bool;
}

impl ContentReader for LoadedPlugin {
    async fn read(
        &self,
        ctx: CallContext,
        id: &str,
        offset: u64,
        length: u32,
    ) -> Result<FileChunk, ConnectorError> {
        self.read_file(ctx, id, offset, length).await
    }
    fn reads_content(&self) -> bool {
        self.info.capabilities.contains(&Capability::FileContent)
    }
}

/// What one file came to.
enum Step {
    /// A result to store for this version.
    Done(Outcome, u64),
    /// Its version was inspected before.
    Unchanged,
    /// Nothing stored: the run's budget ran out, the file is gone, or reading failed
    /// (the error, when it should stop the run).
    Pending(Option<ConnectorError>),
}

/// The run's shared budget.
struct Budget {
    bytes_left: std::sync::atomic::AtomicU64,
    deadline: Instant,
    /// Set when an error stops the run (no new file starts).
    stopped: std::sync::atomic::AtomicBool,
}

impl Budget {
    fn spent(&self) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        self.stopped.load(Relaxed)
            || self.bytes_left.load(Relaxed) == 0
            || Instant::now() >= self.deadline
    }

    /// Takes `n` bytes from the budget; false when it had none left.
    fn take(&self, n: u64) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        self.bytes_left
            .fetch_update(Relaxed, Relaxed, |left| {
                (left > 0).then(|| left.saturating_sub(n))
            })
            .is_ok()
    }
}

/// Inspect the instance's live files whose version has no result yet. `None` when the
/// connector cannot read content or inspection is off.
pub async fn inspect_files(
    store: &Store,
    reader: &impl ContentReader,
    instance_id: &str,
    ctx: &CallContext,
    opts: &InspectOptions,
) -> Result<Option<InspectReport>, StoreError> {
    if !opts.enabled || !reader.reads_content() {
        return Ok(None);
    }
    let budget = Budget {
        bytes_left: opts.run_bytes.into(),
        deadline: Instant::now() + opts.run_time,
        stopped: false.into(),
    };
    let mut report = InspectReport::default();
    let files = futures_util::stream::iter(store.live_files(instance_id)?);
    let mut steps = files
        .map(|file| {
            let budget = &budget;
            async move {
                let file = file?;
                let version = file_version(&file);
                let started = Instant::now();
                let step = match store.inspection(instance_id, &file.id)? {
                    Some(done) if done.version == version => Step::Unchanged,
                    _ => inspect_one(reader, ctx, &file, opts, budget).await,
                };
                if let Step::Done(outcome, _) = &step {
                    store.put_inspection(
                        instance_id,
                        &file.id,
                        &FileInspection {
                            version,
                            outcome: outcome.clone(),
                            inspected_at: now_millis(),
                            took_ms: u64::try_from(started.elapsed().as_millis())
                                .unwrap_or(u64::MAX),
                        },
                    )?;
                }
                Ok::<_, StoreError>(step)
            }
        })
        .buffer_unordered(opts.files_at_once.max(1));
    while let Some(step) = steps.next().await {
        match step? {
            Step::Unchanged => report.unchanged += 1,
            Step::Done(Outcome::Inspected { hits, .. }, bytes) => {
                report.inspected += 1;
                report.bytes += bytes;
                report.with_hits += u64::from(!hits.is_empty());
            }
            Step::Done(Outcome::NotInspected { .. }, bytes) => {
                report.not_inspected += 1;
                report.bytes += bytes;
            }
            Step::Pending(error) => {
                report.pending += 1;
                if let Some(e) = error {
                    budget
                        .stopped
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                    report.error.get_or_insert(e);
                }
            }
        }
    }
    Ok(Some(report))
}

/// Read and inspect one file within the file's deadline and the run's budget.
async fn inspect_one(
    reader: &impl ContentReader,
    ctx: &CallContext,
    file: &File,
    opts: &InspectOptions,
    budget: &Budget,
) -> Step {
    let mut inspection = opts.inspector.start(&file.name, file.mime_type.as_deref());
    if !inspection.wants_more() {
        // Not a type the inspector reads: decided before any byte is fetched.
        return Step::Done(inspection.finish(), 0);
    }
    if budget.spent() {
        return Step::Pending(None);
    }
    let deadline = (Instant::now() + opts.file_time).min(budget.deadline);
    let too_slow = || Outcome::NotInspected {
        reason: format!(
            "not inspected (took longer than the {} s a file may take)",
            opts.file_time.as_secs()
        ),
    };
    let (mut offset, mut eof) = (0u64, false);
    while inspection.wants_more() {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            return time_out(budget, too_slow(), offset);
        };
        let read = reader.read(
            ctx.clone(),
            &file.id,
            offset,
            opts.chunk_bytes.min(MAX_FILE_CHUNK),
        );
        let chunk = match tokio::time::timeout(left, read).await {
            Err(_) => return time_out(budget, too_slow(), offset),
            Ok(Err(ConnectorError::NotFound(_))) => return Step::Pending(None),
            Ok(Err(e @ (ConnectorError::Unauthorized(_) | ConnectorError::RateLimited(_)))) => {
                return Step::Pending(Some(e));
            }
            Ok(Err(e)) => {
                tracing::warn!(file = %file.id, "reading the file for inspection failed: {e}");
                return Step::Pending(None);
            }
            Ok(Ok(chunk)) => chunk,
        };
        let n = chunk.data.len() as u64;
        if !budget.take(n) {
            return Step::Pending(None);
        }
        offset += n;
        inspection = match on_worker(opts, deadline, move || {
            inspection.feed(&chunk.data);
            inspection
        })
        .await
        {
            Ok(fed) => fed,
            Err(Stopped::TimedOut) => return time_out(budget, too_slow(), offset),
            Err(Stopped::Failed) => return Step::Done(failed(), offset),
        };
        if chunk.eof || n == 0 {
            eof = true;
            break;
        }
    }
    match on_worker(opts, deadline, move || inspection.finish()).await {
        Ok(mut outcome) => {
            // The inspector stopped wanting bytes at a limit: the rest was never read.
            if let Outcome::Inspected { truncated, .. } = &mut outcome {
                *truncated |= !eof;
            }
            Step::Done(outcome, offset)
        }
        Err(Stopped::TimedOut) => time_out(budget, too_slow(), offset),
        Err(Stopped::Failed) => Step::Done(failed(), offset),
    }
}

fn failed() -> Outcome {
    Outcome::NotInspected {
        reason: "not inspected (the inspector failed on this content)".into(),
    }
}

/// A file that ran out of time: its own deadline is a result (the file is not read
/// again until it changes); the run's is not (it waits for the next run).
fn time_out(budget: &Budget, outcome: Outcome, read: u64) -> Step {
    if Instant::now() >= budget.deadline {
        Step::Pending(None)
    } else {
        Step::Done(outcome, read)
    }
}

/// Run CPU work on a blocking thread holding one of the host-wide permits, waiting
/// until `deadline` at most. The work itself cannot be interrupted: it goes on to its
/// (bounded) end after a timeout, still holding its permit.
async fn on_worker<T: Send + 'static>(
    opts: &InspectOptions,
    deadline: Instant,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Stopped> {
    let left = deadline
        .checked_duration_since(Instant::now())
        .ok_or(Stopped::TimedOut)?;
    let wait = async {
        let permit = Arc::clone(&opts.workers)
            .acquire_owned()
            .await
            .map_err(|_| Stopped::Failed)?;
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
        });
        match task.await {
            Ok(Ok(value)) => Ok(value),
            _ => Err(Stopped::Failed),
        }
    };
    tokio::time::timeout(left, wait)
        .await
        .map_err(|_| Stopped::TimedOut)?
}

/// Why CPU work gave no answer.
enum Stopped {
    TimedOut,
    /// It panicked (the inspector catches its parsers' panics; this is the last line).
    Failed,
}

#[cfg(test)]
mod tests {
    //! The pipeline reads what changed and only that, within its budgets, and records
    //! what it could not read with the reason.

    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::*;
    use crate::model::{ContentHash, Kind, Record, Sharing};
    use crate::store::tests::instance;
    use crate::store::{RecordFilter, ScanState};

    /// A valid Visa test number (Luhn) in a line of text.
    const CARD_LINE: &str = "customer card 4111 1111 1111 1111 exp 12/29\n";

    /// File contents by id; every read is logged as (id, offset).
    #[derive(Default)]
    struct Script {
        content: BTreeMap<String, Vec<u8>>,
        /// Ids whose reads never answer (a provider that hangs).
        hang: Vec<String>,
        /// Ids whose reads fail with this error.
        fail: BTreeMap<String, ConnectorError>,
        /// Ids of files this many bytes long, all `a`, made up as they are read.
        huge: BTreeMap<String, u64>,
        reads: Mutex<Vec<(String, u64)>>,
    }

    impl Script {
        fn reads_of(&self, id: &str) -> usize {
            self.reads
                .lock()
                .unwrap()
                .iter()
                .filter(|(i, _)| i == id)
                .count()
        }
        fn all_reads(&self) -> usize {
            self.reads.lock().unwrap().len()
        }
    }

    impl ContentReader for Script {
        async fn read(
            &self,
            _ctx: CallContext,
            id: &str,
            offset: u64,
            length: u32,
        ) -> Result<FileChunk, ConnectorError> {
            self.reads.lock().unwrap().push((id.to_string(), offset));
            if self.hang.iter().any(|h| h == id) {
                std::future::pending::<()>().await;
            }
            if let Some(e) = self.fail.get(id) {
                return Err(e.clone());
            }
            if let Some(&size) = self.huge.get(id) {
                let n = u64::from(length).min(size.saturating_sub(offset));
                return Ok(FileChunk {
                    data: vec![b'a'; n as usize],
                    eof: offset + n >= size,
                    size: Some(size),
                });
            }
            let body = &self.content[id];
            let start = (offset as usize).min(body.len());
            let end = (start + length as usize).min(body.len());
            Ok(FileChunk {
                data: body[start..end].to_vec(),
                eof: end == body.len(),
                size: Some(body.len() as u64),
            })
        }
        fn reads_content(&self) -> bool {
            true
        }
    }

    fn file(id: &str, name: &str, hash: &str) -> Record {
        Record::File(File {
            id: id.into(),
            name: name.into(),
            path: None,
            owner: Some("ana@example.com".into()),
            mime_type: None,
            size: None,
            modified: None,
            shared_externally: id.starts_with("ext"),
            public: false,
            sharing: Sharing::default(),
            labels: vec![],
            content_hash: Some(ContentHash {
                algorithm: "md5".into(),
                value: hash.into(),
            }),
            raw: serde_json::json!({ "id": id }).into(),
        })
    }

    /// A store holding one completed files scan of `files`.
    fn stored(files: &[Record]) -> (tempfile::TempDir, Store, String) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let inst = instance("acme");
        store.create_instance(&inst, &Default::default()).unwrap();
        rescan(&store, &inst.id, files, 1);
        (dir, store, inst.id)
    }

    fn rescan(store: &Store, id: &str, files: &[Record], generation: u64) {
        let state = ScanState {
            generation,
            ..ScanState::default()
        };
        store
            .commit_page(id, Kind::Files, files, &state, true)
            .unwrap();
    }

    fn opts() -> InspectOptions {
        InspectOptions {
            chunk_bytes: 16,
            ..InspectOptions::default()
        }
    }

    async fn run(store: &Store, reader: &Script, id: &str, opts: &InspectOptions) -> InspectReport {
        inspect_files(store, reader, id, &CallContext::default(), opts)
            .await
            .unwrap()
            .expect("the script reads content")
    }

    fn hits(store: &Store, id: &str, file: &str) -> Vec<(String, u64)> {
        match store.inspection(id, file).unwrap().unwrap().outcome {
            Outcome::Inspected { hits, .. } => {
                hits.into_iter().map(|h| (h.classifier, h.count)).collect()
            }
            Outcome::NotInspected { reason } => panic!("{file} not inspected: {reason}"),
        }
    }

    fn script(files: &[(&str, &str)]) -> Script {
        Script {
            content: files
                .iter()
                .map(|(id, text)| (id.to_string(), text.as_bytes().to_vec()))
                .collect(),
            ..Script::default()
        }
    }

    #[tokio::test]
    async fn each_version_is_read_once_and_an_unchanged_rescan_reads_no_content() {
        let files = [
            file("ext-cards", "cards.csv", "h1"),
            file("notes", "notes.txt", "h2"),
            file("clip", "clip.mp4", "h3"),
        ];
        let (_dir, store, id) = stored(&files);
        let reader = script(&[
            (
                "ext-cards",
                &format!("name,card\nana,{CARD_LINE}").repeat(3),
            ),
            ("notes", "nothing to see here, just minutes of a meeting\n"),
            ("clip", "ftypisom, but a text clip still"),
        ]);

        let first = run(&store, &reader, &id, &opts()).await;
        assert_eq!(
            (
                first.inspected,
                first.with_hits,
                first.not_inspected,
                first.unchanged
            ),
            (2, 1, 1, 0)
        );
        assert_eq!(hits(&store, &id, "ext-cards"), [("card".to_string(), 3)]);
        assert!(hits(&store, &id, "notes").is_empty());
        assert_eq!(
            reader.reads_of("clip"),
            0,
            "a video is refused before any read"
        );
        assert!(
            reader.reads_of("ext-cards") > 1,
            "a file larger than a chunk is read in chunks"
        );

        let reads = reader.all_reads();
        let again = run(&store, &reader, &id, &opts()).await;
        assert_eq!((again.unchanged, again.inspected, again.bytes), (3, 0, 0));
        assert_eq!(
            reader.all_reads(),
            reads,
            "an unchanged rescan reads no content"
        );

        // A new version of one file (another content hash) is read again, alone.
        let changed = [
            file("ext-cards", "cards.csv", "h1"),
            file("notes", "notes.txt", "h2-new"),
            file("clip", "clip.mp4", "h3"),
        ];
        rescan(&store, &id, &changed, 2);
        let (notes_reads, reads) = (reader.reads_of("notes"), reader.all_reads());
        let third = run(&store, &reader, &id, &opts()).await;
        assert_eq!((third.inspected, third.unchanged), (1, 2));
        let notes_now = reader.reads_of("notes") - notes_reads;
        assert!(notes_now > 0);
        assert_eq!(
            reader.all_reads() - reads,
            notes_now,
            "only the new version is read"
        );
    }

    #[tokio::test]
    async fn files_are_found_by_sharing_and_classifier_with_their_inspection() {
        let files = [
            file("ext-cards", "cards.csv", "h1"),
            file("int-cards", "cards-internal.csv", "h2"),
            file("ext-clean", "readme.txt", "h3"),
        ];
        let (_dir, store, id) = stored(&files);
        let reader = script(&[
            ("ext-cards", CARD_LINE),
            ("int-cards", CARD_LINE),
            ("ext-clean", "hello\n"),
        ]);
        run(&store, &reader, &id, &opts()).await;
        let filter = RecordFilter {
            shared: Some("external".into()),
            classifier: Some("card".into()),
            ..RecordFilter::default()
        };
        filter.validate(Kind::Files).unwrap();
        let page = store.query(&id, Kind::Files, &filter, None, 100).unwrap();
        let found: Vec<_> = page.items.iter().map(|r| r.record.id()).collect();
        assert_eq!(found, ["ext-cards"]);
        let inspection = page.items[0].inspection.as_ref().unwrap();
        assert!(inspection.matched("card"));
        let Outcome::Inspected { hits, .. } = &inspection.outcome else {
            panic!("inspected")
        };
        assert!(
            !hits[0]
                .snippets
                .iter()
                .any(|s| s.contains("4111 1111 1111 1111")),
            "snippets never hold the raw match: {:?}",
            hits[0].snippets
        );
        let internal = RecordFilter {
            shared: Some("internal".into()),
            ..RecordFilter::default()
        };
        let page = store.query(&id, Kind::Files, &internal, None, 100).unwrap();
        let found: Vec<_> = page.items.iter().map(|r| r.record.id()).collect();
        assert_eq!(found, ["int-cards"]);
        assert!(
            RecordFilter {
                classifier: Some("card".into()),
                ..RecordFilter::default()
            }
            .validate(Kind::Users)
            .is_err(),
            "a files filter on users is refused, not ignored"
        );
    }

    #[tokio::test]
    async fn the_run_byte_budget_leaves_the_rest_for_the_next_run() {
        let files = [
            file("a", "a.txt", "ha"),
            file("b", "b.txt", "hb"),
            file("c", "c.txt", "hc"),
        ];
        let (_dir, store, id) = stored(&files);
        let text = "x".repeat(40);
        let reader = script(&[("a", &text), ("b", &text), ("c", &text)]);
        let small = InspectOptions {
            run_bytes: 50,
            files_at_once: 1,
            ..opts()
        };
        let first = run(&store, &reader, &id, &small).await;
        assert_eq!((first.inspected, first.pending), (1, 2), "{first:?}");
        assert!(
            first.bytes <= 50 + 16,
            "the budget bounds bytes read: {}",
            first.bytes
        );
        let second = run(&store, &reader, &id, &small).await;
        assert_eq!(
            (second.unchanged, second.inspected, second.pending),
            (1, 1, 1)
        );
        let third = run(&store, &reader, &id, &small).await;
        assert_eq!((third.unchanged, third.inspected, third.pending), (2, 1, 0));
    }

    #[tokio::test]
    async fn a_file_past_its_deadline_is_recorded_and_the_others_carry_on() {
        let files = [file("slow", "slow.txt", "h1"), file("ok", "ok.txt", "h2")];
        let (_dir, store, id) = stored(&files);
        let mut reader = script(&[("slow", "never read"), ("ok", CARD_LINE)]);
        reader.hang.push("slow".into());
        let quick = InspectOptions {
            file_time: Duration::from_millis(300),
            ..opts()
        };
        let report = run(&store, &reader, &id, &quick).await;
        assert_eq!(
            (report.inspected, report.not_inspected),
            (1, 1),
            "{report:?}"
        );
        match store.inspection(&id, "slow").unwrap().unwrap().outcome {
            Outcome::NotInspected { reason } => assert!(reason.contains("longer"), "{reason}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(hits(&store, &id, "ok"), [("card".to_string(), 1)]);
    }

    #[tokio::test]
    async fn a_two_gigabyte_file_is_read_only_up_to_the_per_file_limit() {
        let files = [file("dump", "dump.log", "h1"), file("ok", "ok.txt", "h2")];
        let (_dir, store, id) = stored(&files);
        let mut reader = script(&[("ok", CARD_LINE)]);
        reader.huge.insert("dump".into(), 2 << 30);
        let limit = 4 << 20;
        let config = Config {
            limits: sluice_inspect::Limits {
                max_file_bytes: limit,
                ..Default::default()
            },
            ..Default::default()
        };
        let opts = InspectOptions::with_config(config).unwrap();
        let report = run(&store, &reader, &id, &opts).await;
        assert_eq!((report.inspected, report.with_hits), (2, 1), "{report:?}");
        let chunks = limit.div_ceil(u64::from(MAX_FILE_CHUNK));
        assert!(
            reader.reads_of("dump") as u64 <= chunks + 1,
            "{} reads of a 2 GiB file",
            reader.reads_of("dump")
        );
        match store.inspection(&id, "dump").unwrap().unwrap().outcome {
            Outcome::Inspected {
                truncated, bytes, ..
            } => assert!(truncated && bytes <= limit, "{bytes}"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn bad_credentials_stop_the_run_and_nothing_is_recorded_for_the_files() {
        let files = [file("a", "a.txt", "ha"), file("b", "b.txt", "hb")];
        let (_dir, store, id) = stored(&files);
        let mut reader = script(&[("a", "text"), ("b", "text")]);
        for f in ["a", "b"] {
            reader.fail.insert(
                f.into(),
                ConnectorError::Unauthorized("token revoked".into()),
            );
        }
        let serial = InspectOptions {
            files_at_once: 1,
            ..opts()
        };
        let report = run(&store, &reader, &id, &serial).await;
        assert_eq!(report.pending, 2);
        assert!(matches!(
            report.error,
            Some(ConnectorError::Unauthorized(_))
        ));
        assert_eq!(
            reader.all_reads(),
            1,
            "no file starts after the run is stopped"
        );
        assert!(store.inspection(&id, "a").unwrap().is_none());
    }
}

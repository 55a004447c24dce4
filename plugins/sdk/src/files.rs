//! Reading file content in chunks, the guest half of `read-file`.
//!
//! The host asks for `length` bytes from `offset`; connectors fetch them with a ranged
//! GET. Providers answer that in three ways, and [`ranged`] turns each into a
//! [`FileChunk`] the same way for every connector:
//!
//! - `206 Partial Content`: the body is the chunk; the file's size is the total in
//!   `Content-Range: bytes 0-99/1234` (or the size the listing gave, when absent);
//! - `200 OK`: the provider ignored `Range` and sent the whole file, which is cut to the
//!   window asked for;
//! - `416 Range Not Satisfiable`: the offset is past the end: an empty, final chunk.
//!
//! ```text
//! let response = http::get(url).header("range", files::range(offset, length)).send()?;
//! files::ranged(response, offset, length, listed_size, |r| r.error_for_status())
//! ```

use crate::ConnectorError;
use crate::bindings::sluice::connector::types::FileChunk;
use crate::http::Response;

/// The `Range` header value asking for `length` bytes (at least one) from `offset`.
pub fn range(offset: u64, length: u32) -> String {
    let last = offset.saturating_add(u64::from(length.max(1)) - 1);
    format!("bytes={offset}-{last}")
}

/// The empty, final chunk for an offset at or past the end of a file of `size` bytes.
pub fn past_end(size: Option<u64>) -> FileChunk {
    FileChunk {
        data: Vec::new(),
        eof: true,
        size,
    }
}

/// The chunk a ranged GET for `length` bytes from `offset` returned.
///
/// `listed_size` is the size the provider's listing gave, used when a 206 carries no
/// total. `check` is the connector's own status check (which maps 404, 403, … to typed
/// errors); it runs on every response but a 416. End of file follows from the size when
/// one is known, and otherwise from a short chunk.
pub fn ranged(
    response: Response,
    offset: u64,
    length: u32,
    listed_size: Option<u64>,
    check: impl FnOnce(Response) -> Result<Response, ConnectorError>,
) -> Result<FileChunk, ConnectorError> {
    if response.status() == 416 {
        return Ok(past_end(listed_size));
    }
    let response = check(response)?;
    let (data, size) = if response.status() == 206 {
        let total = response
            .header("content-range")
            .and_then(|range| range.rsplit_once('/'))
            .and_then(|(_, total)| total.trim().parse::<u64>().ok())
            .or(listed_size);
        (response.body().to_vec(), total)
    } else {
        let body = response.body();
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(body.len());
        let end = start
            .saturating_add(usize::try_from(length).unwrap_or(usize::MAX))
            .min(body.len());
        (body[start..end].to_vec(), Some(body.len() as u64))
    };
    let eof = match size {
        Some(size) => offset.saturating_add(data.len() as u64) >= size,
        None => data.len() < length as usize,
    };
    Ok(FileChunk { data, eof, size })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(response: Response) -> Result<Response, ConnectorError> {
        Ok(response)
    }

    fn partial(body: &[u8], content_range: Option<&str>) -> Response {
        let headers = content_range
            .map(|range| vec![("Content-Range".to_string(), range.to_string())])
            .unwrap_or_default();
        Response::new(206, headers, body.to_vec())
    }

    #[test]
    fn a_range_names_the_last_byte_and_never_asks_for_nothing() {
        assert_eq!(range(0, 4), "bytes=0-3");
        assert_eq!(range(10, 1), "bytes=10-10");
        assert_eq!(range(10, 0), "bytes=10-10");
        assert_eq!(
            range(u64::MAX, 8),
            format!("bytes={}-{}", u64::MAX, u64::MAX)
        );
    }

    #[test]
    fn a_partial_answer_is_the_chunk_and_its_total_says_where_the_file_ends() {
        let chunk = ranged(partial(b"abcd", Some("bytes 0-3/10")), 0, 4, None, ok).unwrap();
        assert_eq!(
            (chunk.data.as_slice(), chunk.eof, chunk.size),
            (&b"abcd"[..], false, Some(10))
        );
        let last = ranged(partial(b"ij", Some("bytes 8-9/10")), 8, 4, None, ok).unwrap();
        assert_eq!(
            (last.data.as_slice(), last.eof, last.size),
            (&b"ij"[..], true, Some(10))
        );
    }

    #[test]
    fn a_partial_answer_without_a_total_uses_the_listed_size_or_a_short_chunk() {
        let listed = ranged(partial(b"abcd", None), 6, 4, Some(10), ok).unwrap();
        assert!(listed.eof);
        assert_eq!(listed.size, Some(10));
        let full = ranged(partial(b"abcd", Some("bytes 0-3/*")), 0, 4, None, ok).unwrap();
        assert!(
            !full.eof,
            "a full chunk of unknown total may have more after it"
        );
        let short = ranged(partial(b"ab", None), 0, 4, None, ok).unwrap();
        assert!(short.eof);
    }

    #[test]
    fn a_whole_file_answer_is_cut_to_the_window_asked_for() {
        let whole = || Response::new(200, vec![], b"0123456789".to_vec());
        let middle = ranged(whole(), 3, 4, None, ok).unwrap();
        assert_eq!(
            (middle.data.as_slice(), middle.eof, middle.size),
            (&b"3456"[..], false, Some(10))
        );
        let tail = ranged(whole(), 8, 4, None, ok).unwrap();
        assert_eq!((tail.data.as_slice(), tail.eof), (&b"89"[..], true));
        let beyond = ranged(whole(), 50, 4, None, ok).unwrap();
        assert!(beyond.data.is_empty() && beyond.eof);
    }

    #[test]
    fn past_the_end_is_an_empty_last_chunk_and_other_failures_go_through_the_check() {
        let gone = Response::new(416, vec![], Vec::new());
        let chunk = ranged(gone, 10, 4, Some(10), |_| {
            unreachable!("416 is not checked")
        })
        .unwrap();
        assert!(chunk.data.is_empty() && chunk.eof);
        assert_eq!(chunk.size, Some(10));
        let missing = Response::new(404, vec![], b"{}".to_vec());
        let error = ranged(missing, 0, 4, None, |r| r.error_for_status()).unwrap_err();
        assert!(matches!(error, ConnectorError::NotFound(_)), "{error:?}");
    }
}

//! `list-files` and `read-file`: the instance's attachments (`sys_attachment`), the
//! files DLP inspects, through the Attachment API.
//!
//! **Listing** is `GET /api/now/attachment?sysparm_query=…`, which answers
//! `{"result":[…]}` of `sys_attachment` rows and pages like the Table API
//! (`sysparm_limit`/`sysparm_offset`, follow `Link: rel="next"` until there is none).
//! Every scan lists every attachment the caller may read, oldest first
//! (`ORDERBYsys_created_on^ORDERBYsys_id`): an update never moves a row, so offset
//! pages stay put while users edit records; a file deleted mid-scan can still shift
//! one row past a page boundary, which the next scan lists again. A complete list is
//! what the host needs: files are a snapshot kind, and an attachment missing from a
//! finished scan is recorded as deleted (which is how a deletion, permanent in
//! ServiceNow, reaches Sluice).
//!
//! When the host passes `context.since` (a changes scan, after a business rule
//! notifies the instance's webhook), the list is the attachments changed since then,
//! `sys_updated_on>=<YYYY-MM-DD HH:MM:SS>^ORDERBYsys_updated_on^ORDERBYsys_id`, in the
//! date format of the activity queries.
//!
//! | `file` | `sys_attachment` |
//! |---|---|
//! | `id` | `sys_id` |
//! | `name` | `file_name` |
//! | `path` | `{table_name}/{table_sys_id}`: the record the file is attached to |
//! | `owner` | `sys_created_by` (a user name) |
//! | `mime-type`, `size` | `content_type`, `size_bytes` |
//! | `modified` | `sys_updated_on` |
//! | `content-hash` | `hash`: `sha256` when 64 hex digits (recent releases), `md5` when 32 (older ones) |
//! | `sharing` | none: an attachment has no sharing of its own; who may read it is who may read its record (ACLs) |
//!
//! **Reading** is `GET /api/now/attachment/{sys_id}/file` (`Accept: */*`). ServiceNow
//! documents only a 200 with the whole file there, no byte ranges, so a 200 is cut to
//! the asked window and every chunk downloads the file again; the request still
//! carries `Range: bytes=o-(o+n-1)`, and a 206 (an instance or proxy that honours it)
//! is taken as the chunk. A 404 is an attachment deleted since the scan (or hidden by
//! an ACL).

use sluice_sdk::prelude::*;

use crate::api::{self, Api};

/// One page of attachments.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<FilePage, ConnectorError> {
    let api = Api::new(ctx)?;
    let position = ListCursor::<()>::resume(cursor)?;
    let url = position.url_or(|()| first_url(&api, ctx.since));
    let (rows, next) = api.page(&url)?;
    let items = json::map_items(&rows, "ServiceNow attachments", file);
    Ok(FilePage {
        items,
        next_cursor: position.next_cursor(next.map(At::url)),
    })
}

/// The first page's URL: every attachment oldest first, or those changed since
/// `since` (ms) when given.
pub fn first_url(api: &Api, since: Option<i64>) -> String {
    let query = match since.and_then(api::format_time) {
        Some(since) => format!("sys_updated_on>={since}^ORDERBYsys_updated_on^ORDERBYsys_id"),
        None => "ORDERBYsys_created_on^ORDERBYsys_id".to_owned(),
    };
    api.attachments(&query, api.page_size()).url().to_owned()
}

/// The file record of a `sys_attachment` row; none without a sys_id.
pub fn file(row: &Value) -> Option<File> {
    let id = api::text(row, "sys_id")?;
    let parent = match (api::text(row, "table_name"), api::text(row, "table_sys_id")) {
        (Some(table), Some(record)) => Some(format!("{table}/{record}")),
        (Some(table), None) => Some(table),
        _ => None,
    };
    Some(File {
        path: parent,
        owner: api::text(row, "sys_created_by"),
        mime_type: api::text(row, "content_type"),
        size: api::text(row, "size_bytes").and_then(|n| n.trim().parse().ok()),
        modified: api::time_of(row, "sys_updated_on")
            .or_else(|| api::time_of(row, "sys_created_on")),
        content_hash: api::text(row, "hash").and_then(|h| content_hash(&h)),
        ..File::new(
            id.clone(),
            api::text(row, "file_name").unwrap_or(id),
            json::raw(row),
        )
    })
}

/// `hash` as ServiceNow gives it: 64 hex digits are SHA-256, 32 are MD5; anything
/// else is not claimed to be either.
pub fn content_hash(hash: &str) -> Option<ContentHash> {
    let hash = hash.trim();
    if !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let algorithm = match hash.len() {
        64 => "sha256",
        32 => "md5",
        _ => return None,
    };
    Some(ContentHash {
        algorithm: algorithm.into(),
        value: hash.to_ascii_lowercase(),
    })
}

/// Up to `length` bytes of attachment `id`'s content from `offset`.
pub fn read(
    ctx: &Context,
    id: &str,
    offset: u64,
    length: u32,
) -> Result<FileChunk, ConnectorError> {
    let api = Api::new(ctx)?;
    let url = api.attachment_url(id, "/file")?;
    let response = http::get(url)
        .header("accept", "*/*")
        .header("range", files::range(offset, length))
        .send()?;
    match response.status() {
        404 => {
            return Err(ConnectorError::not_found(format!(
                "attachment {id}: {}",
                api::error_text(&response)
            )));
        }
        403 => {
            return Err(ConnectorError::Forbidden(format!(
                "reading attachment {id} was refused: {}",
                api::error_text(&response)
            )));
        }
        _ => {}
    }
    files::ranged(response, offset, length, None, Response::error_for_status)
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::{FakeHost, NEW_YEAR};

    use super::*;
    use crate::api::fake;

    const BASE: &str = "https://acme.service-now.test";

    fn attachment(id: &str, name: &str, hash: &str) -> Value {
        json!({"sys_id": id, "file_name": name, "content_type": "application/pdf",
               "size_bytes": "2048", "size_compressed": "1024", "compressed": "true",
               "hash": hash, "table_name": "incident", "table_sys_id": "inc1",
               "download_link": format!("{BASE}/api/now/attachment/{id}/file"),
               "sys_created_by": "abel.tuter", "sys_created_on": "2024-01-01 00:00:00",
               "sys_updated_by": "abel.tuter", "sys_updated_on": "2024-01-02 03:04:05",
               "image_height": "", "image_width": "", "average_image_color": "",
               "state": "available", "sys_tags": "", "sys_mod_count": "0"})
    }

    #[test]
    fn attachments_page_by_link_oldest_first_and_map_to_files() {
        let sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let first = format!(
            "{BASE}/api/now/attachment?sysparm_query=ORDERBYsys_created_on%5EORDERBYsys_id&sysparm_limit=2&sysparm_offset=0"
        );
        let next = format!("{BASE}/api/now/attachment?sysparm_offset=2");
        let host = fake::instance(vec![
            (
                first.clone(),
                fake::page(
                    json!([
                        attachment("a1", "plan.pdf", sha),
                        attachment("a2", "old.pdf", "0CC175B9C0F1B6A831C399E269772661")
                    ]),
                    Some(&next),
                ),
            ),
            (
                next.clone(),
                fake::page(json!([attachment("a3", "", "")]), None),
            ),
        ]);
        let ctx = fake::ctx(2, None);
        let (pages, host) = host.run(|| sluice_sdk::testing::all_pages(5, |c| list(&ctx, c)));
        let urls: Vec<_> = host.requests().iter().map(|r| r.url.as_str()).collect();
        assert_eq!(urls, [first, next]);
        let files: Vec<&File> = pages.iter().flat_map(|p| &p.items).collect();
        let ids: Vec<_> = files.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["a1", "a2", "a3"]);
        let plan = files[0];
        assert_eq!(plan.name, "plan.pdf");
        assert_eq!(plan.path.as_deref(), Some("incident/inc1"));
        assert_eq!(plan.owner.as_deref(), Some("abel.tuter"));
        assert_eq!(plan.mime_type.as_deref(), Some("application/pdf"));
        assert_eq!(plan.size, Some(2048), "size_bytes, not size_compressed");
        assert_eq!(plan.modified, Some(NEW_YEAR + 86_400_000 + 11_045_000));
        let hash = plan.content_hash.as_ref().unwrap();
        assert_eq!(
            (hash.algorithm.as_str(), hash.value.as_str()),
            ("sha256", sha)
        );
        let md5 = files[1].content_hash.as_ref().unwrap();
        assert_eq!(
            (md5.algorithm.as_str(), md5.value.as_str()),
            ("md5", "0cc175b9c0f1b6a831c399e269772661")
        );
        // No name: the sys_id; no hash: none. No sharing model at all.
        assert_eq!(
            (files[2].name.as_str(), &files[2].content_hash),
            ("a3", &None)
        );
        assert!(
            files
                .iter()
                .all(|f| !f.public && !f.shared_externally && f.sharing.principals.is_empty())
        );
    }

    #[test]
    fn a_since_lists_only_attachments_changed_from_then() {
        let host = fake::instance(vec![]);
        let (url, _) = host.run(|| {
            let api = Api::new(&fake::ctx(100, None)).unwrap();
            first_url(&api, Some(NEW_YEAR + 5_000))
        });
        assert_eq!(
            url,
            format!(
                "{BASE}/api/now/attachment?sysparm_query=sys_updated_on%3E%3D2024-01-01%2000%3A00%3A05%5EORDERBYsys_updated_on%5EORDERBYsys_id&sysparm_limit=100&sysparm_offset=0"
            )
        );
    }

    /// The instance for content reads, which ask for `*/*`.
    fn content(routes: Vec<(String, Response)>) -> FakeHost {
        FakeHost::new()
            .config("base_url", "https://acme.service-now.test/")
            .expect_header("accept", "*/*")
            .routes(
                routes,
                fake::error(
                    404,
                    "Attachment record not found",
                    "Record doesn't exist or ACL restricts the record retrieval",
                ),
            )
    }

    #[test]
    fn reads_cut_a_whole_body_or_take_a_range() {
        let url = format!("{BASE}/api/now/attachment/a1/file");
        let whole = Response::new(200, vec![], "0123456789");
        let (chunk, host) = content(vec![(url.clone(), whole.clone())])
            .run(|| read(&fake::ctx(10, None), "a1", 4, 4).unwrap());
        assert_eq!(chunk.data, b"4567");
        assert_eq!((chunk.eof, chunk.size), (false, Some(10)));
        assert_eq!(host.requests()[0].header("range"), Some("bytes=4-7"));
        let (chunk, _) = content(vec![(url.clone(), whole)])
            .run(|| read(&fake::ctx(10, None), "a1", 8, 4).unwrap());
        assert_eq!(chunk.data, b"89");
        assert!(chunk.eof);

        let partial = Response::new(
            206,
            vec![("content-range".into(), "bytes 2-5/10".into())],
            "2345",
        );
        let (chunk, _) =
            content(vec![(url, partial)]).run(|| read(&fake::ctx(10, None), "a1", 2, 4).unwrap());
        assert_eq!(chunk.data, b"2345");
        assert_eq!((chunk.eof, chunk.size), (false, Some(10)));

        let (gone, _) = content(vec![]).run(|| read(&fake::ctx(10, None), "a9", 0, 4));
        assert!(
            matches!(&gone, Err(ConnectorError::NotFound(m)) if m.contains("Attachment record not found")),
            "{gone:?}"
        );
        let (bad, host) = content(vec![]).run(|| read(&fake::ctx(10, None), "..", 0, 4));
        assert!(matches!(bad, Err(ConnectorError::NotFound(_))));
        assert!(host.requests().is_empty());
    }
}

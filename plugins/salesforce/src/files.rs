//! Salesforce Files: `list-files`, `read-file`, and the file actions.
//!
//! A file is a `ContentDocument`; its content and details are those of its latest
//! `ContentVersion`. One page is one batch of
//!
//! ```text
//! SELECT Id, ContentDocumentId, Title, … FROM ContentVersion
//!   WHERE IsLatest = true ORDER BY ContentDocumentId
//! ```
//!
//! (paged by `nextRecordsUrl`, like every listing here), completed with its sharing,
//! read for the batch's documents with `ContentDocumentId IN (…)` (at most
//! [`IN_IDS`] ids a query, so the URL stays short; Salesforce refuses a
//! `ContentDocumentLink` query without such a filter unless the user has "Query All
//! Files"):
//!
//! - `ContentDocumentLink`: where the file is shared (`LinkedEntityId`: a user
//!   `005…`, a Chatter group `0F9…`, a library `058…`, the org `00D…`, or a record) and
//!   how (`ShareType` `V` viewer, `C` collaborator, `I` inferred from the record);
//!   the owner's own link is left out. A linked user is external when its `UserType`
//!   is not `Standard` or `CsnOnly` (portal and community users, guests), read with one
//!   `User` query over the batch's linked users;
//! - `ContentDistribution`: public links (`DistributionPublicUrl`), which reach anyone
//!   who has the URL; one whose `ExpiryDate` has passed (`PreferencesExpires`) is left
//!   out. An org without content deliveries answers `INVALID_TYPE`: no links.
//!
//! | Salesforce | Sluice file |
//! |---|---|
//! | `ContentDocumentId` | `id` (the record key; the target of the actions) |
//! | `Title` + `.FileExtension` | `name` |
//! | `OwnerId` | `owner` (a user id, as `list-users` keys users) |
//! | `ContentSize` | `size` |
//! | `SystemModstamp` | `modified` |
//! | `Checksum` | `content-hash` `md5` |
//! | `FileExtension` | `mime-type` (the common ones; `FileType` stays in `raw`) |
//! | links, distributions | `sharing`, `shared-externally`, `public` |
//!
//! Every scan lists every file: files are a snapshot kind, so the host starts each
//! scan without a cursor and marks files it did not see as deleted. A
//! `SystemModstamp` cursor across scans would need a host that keeps one for files
//! (see the guide).
//!
//! `read-file` finds the document's latest version, then
//! `GET …/sobjects/ContentVersion/{id}/VersionData` with `Range: bytes=o-(o+n-1)`.
//! Salesforce documents the blob resource without ranges: a 206 is the chunk, a 200
//! (the whole content) is cut to the asked window.
//!
//! Actions: `trash-file` is `DELETE …/sobjects/ContentDocument/{id}`, which moves the
//! file (every version, link and public link) to the Recycle Bin, from where it can be
//! restored for 15 days; `remove-public-link` deletes the file's `ContentDistribution`
//! records. Either shows in the next files scan.

use std::collections::{BTreeMap, BTreeSet};

use sluice_sdk::prelude::*;

use crate::api::{self, Api, literal, record_id};

/// The fields read of each latest version.
pub const VERSION_FIELDS: &str = "Id, ContentDocumentId, Title, PathOnClient, FileExtension, \
     FileType, ContentSize, Checksum, OwnerId, VersionNumber, CreatedDate, LastModifiedDate, \
     SystemModstamp";

/// The fields read of each link.
pub const LINK_FIELDS: &str = "Id, ContentDocumentId, LinkedEntityId, ShareType, Visibility";

/// The fields read of each public link.
pub const DISTRIBUTION_FIELDS: &str = "Id, ContentDocumentId, Name, DistributionPublicUrl, \
     PreferencesAllowViewInBrowser, PreferencesAllowOriginalDownload, PreferencesExpires, \
     ExpiryDate";

/// Ids in one `IN (…)` filter: 200 ids keep a query URL near 6 KB (Salesforce takes
/// 16 KB).
pub const IN_IDS: usize = 200;

/// Batches of links or distributions read per chunk of ids: bounds one call.
const MAX_SHARING_BATCHES: usize = 20;

/// `UserType` values of users inside the org (as `list-users` decides `is-external`).
const INTERNAL_TYPES: [&str; 2] = ["Standard", "CsnOnly"];

/// One page of files.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<FilePage, ConnectorError> {
    let api = Api::new(ctx)?;
    let position = ListCursor::<()>::resume(cursor)?;
    let url = position.url_or(|()| {
        api.query_url(&format!(
            "SELECT {VERSION_FIELDS} FROM ContentVersion WHERE IsLatest = true \
             ORDER BY ContentDocumentId"
        ))
    });
    let batch = api.batch(&url)?;
    let documents: Vec<String> = batch
        .records
        .iter()
        .filter_map(|v| json::str_at(v, "ContentDocumentId"))
        .collect();
    let mut links = by_document(&api, "ContentDocumentLink", LINK_FIELDS, &documents)?;
    let mut distributions =
        match by_document(&api, "ContentDistribution", DISTRIBUTION_FIELDS, &documents) {
            Ok(found) => found,
            Err(ConnectorError::Forbidden(why)) => {
                log::info(format_args!(
                    "no public links read (content deliveries off, or not visible): {why}"
                ));
                BTreeMap::new()
            }
            Err(e) => return Err(e),
        };
    let owners: BTreeMap<String, String> = batch
        .records
        .iter()
        .filter_map(|v| {
            Some((
                json::str_at(v, "ContentDocumentId")?,
                json::str_at(v, "OwnerId")?,
            ))
        })
        .collect();
    // Users the files are shared with, owners aside (they are not listed).
    let linked_users: BTreeSet<String> = links
        .iter()
        .flat_map(|(document, links)| {
            let owner = owners.get(document);
            links
                .iter()
                .filter_map(|l| json::str_at(l, "LinkedEntityId"))
                .filter(move |id| id.starts_with("005") && Some(id) != owner)
        })
        .collect();
    let external = external_users(&api, &linked_users)?;
    let items = json::map_items(&batch.records, "Salesforce files", |v| {
        let document = json::str_at(v, "ContentDocumentId")?;
        Some(file(
            v,
            links.remove(&document).unwrap_or_default(),
            distributions.remove(&document).unwrap_or_default(),
            &external,
            ctx.now,
        ))
    });
    Ok(FilePage {
        items,
        next_cursor: position.next_cursor(batch.next.map(At::url)),
    })
}

/// `object`'s records for `documents`, by `ContentDocumentId`.
fn by_document(
    api: &Api,
    object: &str,
    fields: &str,
    documents: &[String],
) -> Result<BTreeMap<String, Vec<Value>>, ConnectorError> {
    let mut found: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for chunk in documents.chunks(IN_IDS) {
        let soql = format!(
            "SELECT {fields} FROM {object} WHERE ContentDocumentId IN ({}) ORDER BY Id",
            in_list(chunk)
        );
        let (records, truncated) = api.query_all(&soql, MAX_SHARING_BATCHES)?;
        if truncated {
            log::warn(format_args!(
                "more than {MAX_SHARING_BATCHES} batches of {object} for {} files; read the first {}",
                chunk.len(),
                records.len()
            ));
        }
        for record in records {
            if let Some(document) = json::str_at(&record, "ContentDocumentId") {
                found.entry(document).or_default().push(record);
            }
        }
    }
    Ok(found)
}

/// `'a', 'b'` for a SOQL `IN (…)`.
fn in_list(ids: &[String]) -> String {
    ids.iter()
        .map(|id| literal(id))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which of `users` are outside the org (portal, community, guest).
fn external_users(api: &Api, users: &BTreeSet<String>) -> Result<BTreeSet<String>, ConnectorError> {
    let ids: Vec<String> = users.iter().cloned().collect();
    let mut external = BTreeSet::new();
    for chunk in ids.chunks(IN_IDS) {
        let soql = format!(
            "SELECT Id, UserType FROM User WHERE Id IN ({})",
            in_list(chunk)
        );
        let (records, _) = api.query_all(&soql, 1)?;
        external.extend(records.iter().filter_map(|u| {
            let kind = json::str_at(u, "UserType")?;
            (!INTERNAL_TYPES.contains(&kind.as_str())).then(|| json::str_at(u, "Id"))?
        }));
    }
    Ok(external)
}

/// The media type of a file extension Salesforce names, for the common ones.
pub fn mime_type(extension: &str) -> Option<&'static str> {
    Some(match extension.to_ascii_lowercase().as_str() {
        "pdf" => "application/pdf",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "html" | "htm" => "text/html",
        "json" => "application/json",
        "xml" => "application/xml",
        "zip" => "application/zip",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        _ => return None,
    })
}

/// What a `ShareType` allows.
fn role(share_type: Option<&str>) -> ShareRole {
    match share_type {
        Some("C") => ShareRole::Editor,
        _ => ShareRole::Viewer,
    }
}

/// The file record of latest version `version`, with its links and distributions.
pub fn file(
    version: &Value,
    links: Vec<Value>,
    distributions: Vec<Value>,
    external_users: &BTreeSet<String>,
    now: i64,
) -> File {
    let document = json::str_at(version, "ContentDocumentId").unwrap_or_default();
    let owner = json::str_at(version, "OwnerId");
    let extension = json::str_at(version, "FileExtension").filter(|e| !e.is_empty());
    let title = json::str_at(version, "Title").unwrap_or_else(|| document.clone());
    let name = match &extension {
        Some(ext)
            if !title
                .to_ascii_lowercase()
                .ends_with(&format!(".{ext}").to_ascii_lowercase()) =>
        {
            format!("{title}.{ext}")
        }
        _ => title,
    };
    let principals: Vec<SharePrincipal> = links
        .iter()
        .filter_map(|link| {
            let id = json::str_at(link, "LinkedEntityId")?;
            if owner.as_deref() == Some(id.as_str()) {
                return None;
            }
            let kind = if id.starts_with("005") {
                PrincipalKind::User
            } else if id.starts_with("00D") {
                PrincipalKind::Domain
            } else {
                PrincipalKind::Group
            };
            Some(SharePrincipal {
                external: external_users.contains(&id),
                role: role(json::str_at(link, "ShareType").as_deref()),
                kind,
                id,
            })
        })
        .collect();
    let live: Vec<&Value> = distributions
        .iter()
        .filter(|d| json::str_at(d, "DistributionPublicUrl").is_some())
        .filter(|d| {
            let expires = json::bool_at(d, "PreferencesExpires") == Some(true);
            !(expires && json::timestamp_at(d, "ExpiryDate").is_some_and(|t| t <= now))
        })
        .collect();
    let share_links: Vec<ShareLink> = live
        .iter()
        .map(|d| ShareLink {
            audience: LinkAudience::Anyone,
            domain: None,
            role: ShareRole::Viewer,
            expires: (json::bool_at(d, "PreferencesExpires") == Some(true))
                .then(|| json::timestamp_at(d, "ExpiryDate"))
                .flatten(),
        })
        .collect();
    let public = !share_links.is_empty();
    let raw = serde_json::json!({
        "version": version,
        "links": links,
        "distributions": distributions,
    });
    File {
        owner,
        mime_type: extension.as_deref().and_then(mime_type).map(str::to_owned),
        size: json::i64_at(version, "ContentSize").and_then(|n| u64::try_from(n).ok()),
        modified: json::timestamp_at(version, "SystemModstamp")
            .or_else(|| json::timestamp_at(version, "LastModifiedDate")),
        shared_externally: public || principals.iter().any(|p| p.external),
        public,
        sharing: Sharing {
            links: share_links,
            principals,
        },
        content_hash: json::str_at(version, "Checksum")
            .filter(|c| !c.is_empty())
            .map(|value| ContentHash {
                algorithm: "md5".into(),
                value,
            }),
        ..File::new(document, name, json::raw(&raw))
    }
}

/// The latest version of document `document`: its id and size.
fn latest_version(api: &Api, document: &str) -> Result<(String, Option<u64>), ConnectorError> {
    let (versions, _) = api.query_all(
        &format!(
            "SELECT Id, ContentSize FROM ContentVersion WHERE ContentDocumentId = {} \
             AND IsLatest = true",
            literal(document)
        ),
        1,
    )?;
    let version = versions
        .first()
        .ok_or_else(|| ConnectorError::not_found(format!("no Salesforce file `{document}`")))?;
    let id = json::str_at(version, "Id")
        .ok_or_else(|| ConnectorError::upstream("a ContentVersion record came without an Id"))?;
    let size = json::i64_at(version, "ContentSize").and_then(|n| u64::try_from(n).ok());
    Ok((id, size))
}

/// Up to `length` bytes of file `id`'s latest version from `offset`.
pub fn read(
    ctx: &Context,
    id: &str,
    offset: u64,
    length: u32,
) -> Result<FileChunk, ConnectorError> {
    let api = Api::new(ctx)?;
    let document = record_id(id, "file (ContentDocument)")?;
    let (version, listed_size) = latest_version(&api, document)?;
    if listed_size.is_some_and(|size| offset >= size) {
        return Ok(files::past_end(listed_size));
    }
    let url = format!(
        "{}/VersionData",
        api.sobject_url("ContentVersion", &version)?
    );
    let response = http::get(url)
        .header("accept", "*/*")
        .header("range", files::range(offset, length))
        .send()?;
    files::ranged(response, offset, length, listed_size, api::checked)
}

/// `trash-file`: moves the document to the Recycle Bin; one already gone is `already`.
pub fn trash(api: &Api, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let document = record_id(&action.target, "file (ContentDocument)")?;
    Write::new(
        api.delete(api.sobject_url("ContentDocument", document)?),
        format!("move Salesforce file {document} to the Recycle Bin"),
    )
    .gone_is_already()
    .perform(action.dry_run)
}

/// `remove-public-link`: deletes every `ContentDistribution` of the document (read
/// first, in a dry run too: a read is no write). None is `already`.
pub fn remove_public_links(api: &Api, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let document = record_id(&action.target, "file (ContentDocument)")?;
    let (distributions, _) = api.query_all(
        &format!(
            "SELECT Id FROM ContentDistribution WHERE ContentDocumentId = {} ORDER BY Id",
            literal(document)
        ),
        1,
    )?;
    let ids: Vec<String> = distributions
        .iter()
        .filter_map(|d| json::str_at(d, "Id"))
        .collect();
    if ids.is_empty() {
        return Ok(ActionOutcome::already(
            &format!("Salesforce file {document} has no public link"),
            Vec::new(),
        ));
    }
    let what = format!(
        "delete the {} public link(s) of Salesforce file {document}",
        ids.len()
    );
    let mut requests = Vec::new();
    for id in &ids {
        requests.push(api.delete(api.sobject_url("ContentDistribution", id)?));
    }
    let lines: Vec<String> = requests.iter().map(|r| r.line()).collect();
    if action.dry_run {
        return Ok(ActionOutcome::planned(&what, lines));
    }
    for request in requests {
        let response = request.send()?;
        // A link deleted meanwhile is what was asked for.
        if response.status() != 404 {
            api::checked(response)?;
        }
    }
    Ok(ActionOutcome::done(&what, lines))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::action;

    use super::*;
    use crate::api::fake::{self, INSTANCE};

    const DOC: &str = "069000000000001AAA";
    const VERSION: &str = "068000000000001AAA";
    const OWNER: &str = "005000000000001AAA";

    fn version(doc: &str) -> Value {
        json!({"attributes": {"type": "ContentVersion"}, "Id": VERSION,
            "ContentDocumentId": doc, "Title": "Q3 plan", "FileExtension": "pdf",
            "FileType": "PDF", "ContentSize": 2048, "Checksum": "9e107d9d372bb6826bd81d3542a419d6",
            "OwnerId": OWNER, "SystemModstamp": "2024-07-01T08:12:44.000+0000"})
    }

    fn in_query(object: &str, fields: &str, ids: &[&str]) -> String {
        let list: Vec<String> = ids.iter().map(|i| format!("'{i}'")).collect();
        fake::query(&format!(
            "SELECT {fields} FROM {object} WHERE ContentDocumentId IN ({}) ORDER BY Id",
            list.join(", ")
        ))
    }

    #[test]
    fn lists_latest_versions_with_their_links_and_public_links() {
        let listing = fake::query(&format!(
            "SELECT {VERSION_FIELDS} FROM ContentVersion WHERE IsLatest = true \
             ORDER BY ContentDocumentId"
        ));
        let portal = "005000000000009AAA";
        let links = json!([
            {"Id": "06A1", "ContentDocumentId": DOC, "LinkedEntityId": OWNER, "ShareType": "I", "Visibility": "AllUsers"},
            {"Id": "06A2", "ContentDocumentId": DOC, "LinkedEntityId": portal, "ShareType": "V", "Visibility": "AllUsers"},
            {"Id": "06A3", "ContentDocumentId": DOC, "LinkedEntityId": "0F9000000000001AAA", "ShareType": "C", "Visibility": "InternalUsers"},
        ]);
        let distributions = json!([
            {"Id": "04I1", "ContentDocumentId": DOC, "DistributionPublicUrl": "https://acme.my.salesforce-sites.com/sfc/p/x",
             "PreferencesExpires": true, "ExpiryDate": "2024-12-31T00:00:00.000+0000"},
            {"Id": "04I2", "ContentDocumentId": DOC, "DistributionPublicUrl": "https://acme.my.salesforce-sites.com/sfc/p/y",
             "PreferencesExpires": true, "ExpiryDate": "2023-01-01T00:00:00.000+0000"},
        ]);
        let users = fake::query(&format!(
            "SELECT Id, UserType FROM User WHERE Id IN ('{portal}')"
        ));
        let host = fake::org(vec![
            (listing, fake::batch(json!([version(DOC)]), None)),
            (
                in_query("ContentDocumentLink", LINK_FIELDS, &[DOC]),
                fake::batch(links, None),
            ),
            (
                in_query("ContentDistribution", DISTRIBUTION_FIELDS, &[DOC]),
                fake::batch(distributions, None),
            ),
            (
                users,
                fake::batch(json!([{"Id": portal, "UserType": "PowerPartner"}]), None),
            ),
        ]);
        // `now` is 2024-01-01: the first link has not expired, the second has.
        let (page, _) = host.run(|| list(&fake::ctx(200, None), None).unwrap());
        assert_eq!(page.next_cursor, None);
        let f = &page.items[0];
        assert_eq!((f.id.as_str(), f.name.as_str()), (DOC, "Q3 plan.pdf"));
        assert_eq!(f.owner.as_deref(), Some(OWNER));
        assert_eq!(f.size, Some(2048));
        assert_eq!(f.mime_type.as_deref(), Some("application/pdf"));
        assert_eq!(f.content_hash.as_ref().unwrap().algorithm, "md5");
        let ids: Vec<_> = f.sharing.principals.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(
            ids,
            [portal, "0F9000000000001AAA"],
            "the owner is not listed"
        );
        assert!(f.sharing.principals[0].external);
        assert_eq!(f.sharing.principals[1].role, ShareRole::Editor);
        assert_eq!(f.sharing.principals[1].kind, PrincipalKind::Group);
        assert_eq!(f.sharing.links.len(), 1, "the expired link is left out");
        assert!(f.public && f.shared_externally);
    }

    #[test]
    fn an_org_without_content_deliveries_lists_files_without_links() {
        let listing = fake::query(&format!(
            "SELECT {VERSION_FIELDS} FROM ContentVersion WHERE IsLatest = true \
             ORDER BY ContentDocumentId"
        ));
        let host = fake::org(vec![
            (listing, fake::batch(json!([version(DOC)]), None)),
            (
                in_query("ContentDocumentLink", LINK_FIELDS, &[DOC]),
                fake::batch(json!([]), None),
            ),
            (
                in_query("ContentDistribution", DISTRIBUTION_FIELDS, &[DOC]),
                fake::error(
                    400,
                    "INVALID_TYPE",
                    "sObject type 'ContentDistribution' is not supported.",
                ),
            ),
        ]);
        let (page, _) = host.run(|| list(&fake::ctx(200, None), None).unwrap());
        assert_eq!(page.items.len(), 1);
        assert!(!page.items[0].public && !page.items[0].shared_externally);
    }

    fn latest() -> (String, Response) {
        (
            fake::query(&format!(
                "SELECT Id, ContentSize FROM ContentVersion WHERE ContentDocumentId = '{DOC}' \
                 AND IsLatest = true"
            )),
            fake::batch(json!([{"Id": VERSION, "ContentSize": 10}]), None),
        )
    }

    fn data_url() -> String {
        format!("{INSTANCE}/services/data/v62.0/sobjects/ContentVersion/{VERSION}/VersionData")
    }

    #[test]
    fn reads_a_range_of_the_latest_version_or_cuts_a_whole_body() {
        let partial = Response::new(
            206,
            vec![("content-range".into(), "bytes 2-5/10".into())],
            "2345",
        );
        let (chunk, host) = fake::org_any_accept(vec![latest(), (data_url(), partial)])
            .run(|| read(&fake::ctx(10, None), DOC, 2, 4).unwrap());
        assert_eq!(chunk.data, b"2345");
        assert_eq!((chunk.eof, chunk.size), (false, Some(10)));
        let content = &host.requests()[1];
        assert_eq!(content.header("range"), Some("bytes=2-5"));
        assert_eq!(content.header("accept"), Some("*/*"));

        let whole = Response::new(200, vec![], "0123456789");
        let (chunk, _) = fake::org_any_accept(vec![latest(), (data_url(), whole)])
            .run(|| read(&fake::ctx(10, None), DOC, 8, 4).unwrap());
        assert_eq!(chunk.data, b"89");
        assert!(chunk.eof);

        let (past, host) =
            fake::org(vec![latest()]).run(|| read(&fake::ctx(10, None), DOC, 10, 4).unwrap());
        assert!(past.eof && past.data.is_empty());
        assert_eq!(host.requests().len(), 1, "nothing fetched past the end");

        let (bad, _) = fake::org(vec![]).run(|| read(&fake::ctx(10, None), "069' OR", 0, 4));
        assert!(matches!(bad, Err(ConnectorError::Other(_))));
    }

    #[test]
    fn trash_deletes_the_document_and_public_links_are_read_first() {
        let url = format!("{INSTANCE}/services/data/v62.0/sobjects/ContentDocument/{DOC}");
        let (planned, host) = fake::org(vec![]).run(|| {
            let api = Api::new(&fake::ctx(10, None)).unwrap();
            trash(&api, &action(ActionKind::TrashFile, DOC, true)).unwrap()
        });
        assert_eq!(planned.requests, [format!("DELETE {url}")]);
        assert!(host.requests().is_empty(), "a dry run sends nothing");

        let query = fake::query(&format!(
            "SELECT Id FROM ContentDistribution WHERE ContentDocumentId = '{DOC}' ORDER BY Id"
        ));
        let (outcome, _) = fake::org(vec![(
            query.clone(),
            fake::batch(json!([{"Id": "04I000000000001AAA"}]), None),
        )])
        .run(|| {
            let api = Api::new(&fake::ctx(10, None)).unwrap();
            remove_public_links(&api, &action(ActionKind::RemovePublicLink, DOC, true)).unwrap()
        });
        assert_eq!(outcome.status, ActionStatus::Planned);
        assert_eq!(
            outcome.requests,
            [format!(
                "DELETE {INSTANCE}/services/data/v62.0/sobjects/ContentDistribution/04I000000000001AAA"
            )]
        );
        let (none, _) = fake::org(vec![(query, fake::batch(json!([]), None))]).run(|| {
            let api = Api::new(&fake::ctx(10, None)).unwrap();
            remove_public_links(&api, &action(ActionKind::RemovePublicLink, DOC, false)).unwrap()
        });
        assert_eq!(none.status, ActionStatus::Already);
    }
}

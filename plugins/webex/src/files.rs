//! Files: the attachments of messages, as a compliance officer sees them.
//!
//! Webex has no file listing: a file is a message attachment, named by a content
//! URL (`https://webexapis.com/v1/contents/{contentId}`) in the message's `files`.
//! A compliance officer sees every message through the Events API, so `list-files`
//! walks two searches of `GET /v1/events` over the last [`LOOK_BACK_DAYS`] days (to
//! `ctx.now`), `Link`-paged:
//!
//! 1. `resource=messages&type=deleted`: the ids of messages deleted since, carried in
//!    the cursor (at most [`MAX_DELETED`]), so their files are not listed;
//! 2. `resource=messages&type=created`: each file of each message still there, with
//!    `HEAD {contentUrl}` for its name (`Content-Disposition`), type and size, as
//!    Webex documents for reading a file's details without downloading it. A file
//!    whose content answers 404 or 410 (deleted, or removed as malware) is left out.
//!
//! A file's id is `{messageId}.{contentId}` (`.` is not in Webex's base64url ids):
//! `read-file` needs the content, the governance action the message. Its path is
//! the space (`room {roomId}`), its owner the sender's email, and its sharing the
//! space as a group principal plus every member of the space from another
//! organization (`GET /v1/memberships?roomId=`, `Link`-paged, once per space and page;
//! a member is external when their `personOrgId` is not the organization's id). Such a
//! member makes the file `shared-externally`. Without
//! `spark-compliance:memberships_read` the members are not read: a warning says so
//! and the file lists the space alone.
//!
//! `read-file` is `GET /v1/contents/{contentId}` with `Range: bytes=o-(o+n-1)`: a 206
//! is the chunk, a 200 (no range support) is cut to it. Webex answers 423 with
//! `Retry-After` while it scans a new file for malware (the host waits), and 410
//! for a file it removed.
//!
//! Scopes: `spark-compliance:events_read` to list, `spark-compliance:memberships_read`
//! for the members from other organizations, `spark-compliance:messages_read` to read
//! content, `spark-compliance:messages_write` and `spark-compliance:memberships_write`
//! for the actions.

use std::collections::{BTreeMap, BTreeSet};

use sluice_sdk::prelude::*;

use crate::api::{self, Api, MAX_PAGE_SIZE};
use crate::audit::webex_time;

/// How far back files are listed: messages of the last 90 days.
pub const LOOK_BACK_DAYS: i64 = 90;
/// Pages of one space's members read at most (1000 members a page).
const MAX_MEMBER_PAGES: usize = 100;

/// Deleted message ids carried in the cursor at most; more are logged and their
/// files listed until a later scan's window no longer holds them.
pub const MAX_DELETED: usize = 20_000;

sluice_sdk::phases! {
    /// Which search a page comes from.
    pub enum Search {
        /// Messages deleted in the window.
        Deleted,
        /// Messages created in the window.
        Created,
    }
}

impl Search {
    /// The `type` query value.
    fn event_type(self) -> &'static str {
        match self {
            Search::Deleted => "deleted",
            Search::Created => "created",
        }
    }
}

/// The ids of deleted messages, carried in the cursor.
pub type Deleted = BTreeSet<String>;

/// One page of files.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<FilePage, ConnectorError> {
    let api = Api::new(ctx)?;
    let mut position = ListCursor::<Search, Deleted>::resume(cursor)?;
    let url = position.url_or(|search| {
        api.get("/events")
            .query("resource", "messages")
            .query("type", search.event_type())
            .query("from", webex_time(ctx.now - LOOK_BACK_DAYS * 86_400_000))
            .query("to", webex_time(ctx.now))
            .query("max", api.page_size())
            .url()
            .to_owned()
    });
    let (events, next) = api.page(api.get_url(&url))?;
    let mut items = Vec::new();
    match position.phase {
        Search::Deleted => {
            for id in events.iter().filter_map(|e| json::str_at(e, "/data/id")) {
                if position.state.len() < MAX_DELETED {
                    position.state.insert(id);
                } else {
                    log::warn(format_args!(
                        "more than {MAX_DELETED} deleted messages; files of the others may \
                         still be listed"
                    ));
                    break;
                }
            }
        }
        Search::Created => {
            let mut spaces = Spaces::new(&api);
            for event in &events {
                let deleted =
                    json::str_at(event, "/data/id").is_some_and(|id| position.state.contains(&id));
                if !deleted {
                    items.extend(files_of(&api, &mut spaces, event)?);
                }
            }
        }
    }
    Ok(FilePage {
        items,
        next_cursor: position.next_cursor(next.map(At::url)),
    })
}

/// The content id at the end of a content URL.
pub fn content_id(url: &str) -> Option<&str> {
    let path = url.split(['?', '#']).next()?;
    let (_, id) = path.rsplit_once("/contents/")?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

/// A file id's message and content ids.
pub fn split_id(id: &str) -> Result<(&str, &str), ConnectorError> {
    id.split_once('.')
        .filter(|(m, c)| !m.is_empty() && !c.is_empty())
        .ok_or_else(|| {
            ConnectorError::not_found(format!(
                "`{id}` is not a Webex file id (`<messageId>.<contentId>`)"
            ))
        })
}

/// The members from other organizations of the spaces seen on one page, each space
/// read once.
struct Spaces<'a> {
    api: &'a Api,
    /// The organization's id, read when the first space is.
    org: Option<String>,
    /// Each space's external members; `None` when they cannot be read.
    guests: BTreeMap<String, Option<Vec<SharePrincipal>>>,
}

impl<'a> Spaces<'a> {
    fn new(api: &'a Api) -> Self {
        Spaces {
            api,
            org: None,
            guests: BTreeMap::new(),
        }
    }

    /// The members of space `room` from other organizations.
    fn guests(&mut self, room: &str) -> Result<Option<&[SharePrincipal]>, ConnectorError> {
        if !self.guests.contains_key(room) {
            let org = match &self.org {
                Some(org) => org.clone(),
                None => self.org.insert(self.api.org_id()?).clone(),
            };
            let guests = read_guests(self.api, room, &org)?;
            self.guests.insert(room.to_owned(), guests);
        }
        Ok(self.guests.get(room).and_then(Option::as_deref))
    }
}

/// Every member of `room` whose `personOrgId` is not `org`, as external user
/// principals (a moderator as `owner`, anyone else as `editor`: members post and share);
/// `None`, with a warning, when the scope to read members is missing.
fn read_guests(
    api: &Api,
    room: &str,
    org: &str,
) -> Result<Option<Vec<SharePrincipal>>, ConnectorError> {
    let mut url = api
        .get("/memberships")
        .query("roomId", room)
        .query("max", MAX_PAGE_SIZE)
        .url()
        .to_owned();
    let mut guests = Vec::new();
    for _ in 0..MAX_MEMBER_PAGES {
        let (members, next) = match api.page(api.get_url(&url)) {
            Err(ConnectorError::Forbidden(why)) => {
                log::warn(format_args!(
                    "members of space {room} not read, so files there are not known to be                      shared outside the organization: {why} (needs                      spark-compliance:memberships_read)"
                ));
                return Ok(None);
            }
            page => page?,
        };
        guests.extend(members.iter().filter_map(|m| guest(m, org)));
        match next {
            Some(next) => url = next,
            None => return Ok(Some(guests)),
        }
    }
    log::warn(format_args!(
        "space {room} has more than {} members; only those read are listed",
        MAX_MEMBER_PAGES * MAX_PAGE_SIZE as usize
    ));
    Ok(Some(guests))
}

/// A membership of a person from another organization than `org`, as a principal.
pub fn guest(membership: &Value, org: &str) -> Option<SharePrincipal> {
    let their_org = json::str_at(membership, "personOrgId")?;
    if their_org == org {
        return None;
    }
    let id =
        json::str_at(membership, "personEmail").or_else(|| json::str_at(membership, "personId"))?;
    let moderator = json::bool_at(membership, "isModerator").unwrap_or(false);
    Some(SharePrincipal {
        id,
        kind: PrincipalKind::User,
        external: true,
        role: if moderator {
            ShareRole::Owner
        } else {
            ShareRole::Editor
        },
    })
}

/// The files of one `messages.created` event, each with its `HEAD` details.
fn files_of(
    api: &Api,
    spaces: &mut Spaces<'_>,
    event: &Value,
) -> Result<Vec<File>, ConnectorError> {
    let Some(message) = json::at(event, "data") else {
        return Ok(Vec::new());
    };
    let Some(message_id) = json::str_at(message, "id") else {
        return Ok(Vec::new());
    };
    let mut files = Vec::new();
    for url in json::strings_at(message, "files") {
        let Some(content) = content_id(&url) else {
            continue;
        };
        let segment = action::target_segment(content)?;
        let head = http::request(Method::Head, api.url(&format!("/contents/{segment}")))
            .header("accept", "*/*")
            .send()?;
        if matches!(head.status(), 404 | 410) {
            continue;
        }
        let head = api::check_status(head)?;
        let mut file = file(&message_id, content, &url, message, &head);
        if let Some(room) = json::str_at(message, "roomId")
            && let Some(guests) = spaces.guests(&room)?
        {
            file.shared_externally = !guests.is_empty();
            file.sharing.principals.extend(guests.iter().cloned());
        }
        files.push(file);
    }
    Ok(files)
}

/// The file name in a `Content-Disposition` header (`attachment;
/// filename="report.pdf"`), if any.
pub fn disposition_name(header: &str) -> Option<String> {
    header.split(';').map(str::trim).find_map(|part| {
        let (key, value) = part.split_once('=')?;
        (key.trim().eq_ignore_ascii_case("filename"))
            .then(|| value.trim().trim_matches('"').to_owned())
            .filter(|name| !name.is_empty())
    })
}

/// The file record for content `content` of message `message`, from the `HEAD`
/// answer's headers.
pub fn file(message_id: &str, content: &str, url: &str, message: &Value, head: &Response) -> File {
    let disposition = head.header("content-disposition").map(str::to_owned);
    let mime = head.header("content-type").map(str::to_owned);
    let size = head
        .header("content-length")
        .and_then(|n| n.trim().parse::<u64>().ok());
    let room = json::str_at(message, "roomId");
    let raw = serde_json::json!({
        "contentUrl": url,
        "contentDisposition": disposition,
        "contentType": mime,
        "contentLength": size,
        "message": message,
    });
    File {
        path: room.as_ref().map(|r| format!("room {r}")),
        owner: json::str_at(message, "personEmail").or_else(|| json::str_at(message, "personId")),
        mime_type: mime,
        size,
        modified: json::timestamp_at(message, "created"),
        sharing: Sharing {
            links: Vec::new(),
            principals: room
                .into_iter()
                .map(|id| SharePrincipal {
                    id,
                    kind: PrincipalKind::Group,
                    external: false,
                    role: ShareRole::Viewer,
                })
                .collect(),
        },
        ..File::new(
            format!("{message_id}.{content}"),
            disposition
                .as_deref()
                .and_then(disposition_name)
                .unwrap_or_else(|| content.to_owned()),
            json::raw(&raw),
        )
    }
}

/// Up to `length` bytes of file `id`'s content from `offset`.
pub fn read(
    ctx: &Context,
    id: &str,
    offset: u64,
    length: u32,
) -> Result<FileChunk, ConnectorError> {
    let api = Api::new(ctx)?;
    let (_, content) = split_id(id)?;
    let segment = action::target_segment(content)?;
    let response = api
        .get_url(&api.url(&format!("/contents/{segment}")))
        .header("accept", "*/*")
        .header("range", files::range(offset, length))
        .send()?;
    if response.status() == 410 {
        return Err(ConnectorError::not_found(format!(
            "Webex removed file {id}: {}",
            api::message(&response)
        )));
    }
    files::ranged(response, offset, length, None, api::check_status)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake::{self, BASE};

    fn created(message: &str, files: &[&str]) -> Value {
        let urls: Vec<String> = files
            .iter()
            .map(|c| format!("{BASE}/contents/{c}"))
            .collect();
        json!({"id": format!("ev-{message}"), "resource": "messages", "type": "created",
            "created": "2023-12-30T10:00:00.000Z",
            "data": {"id": message, "roomId": "room-1", "personEmail": "a@x.test",
                "created": "2023-12-30T10:00:00.000Z", "files": urls}})
    }

    fn head(name: &str) -> Response {
        Response::new(
            200,
            vec![
                (
                    "content-disposition".into(),
                    format!("attachment; filename=\"{name}\""),
                ),
                ("content-type".into(), "application/pdf".into()),
                ("content-length".into(), "2048".into()),
            ],
            "",
        )
    }

    #[test]
    fn lists_files_of_messages_not_deleted_with_head_details() {
        let enc = http::encode_component;
        let (from, to) = (
            enc("2023-10-03T00:00:00.000Z"),
            enc("2024-01-01T00:00:00.000Z"),
        );
        let search = |kind: &str| {
            format!("{BASE}/events?resource=messages&type={kind}&from={from}&to={to}&max=10")
        };
        let host = fake::webex_any_type(vec![
            (
                search("deleted"),
                fake::json(&json!({"items": [{"id": "ev-d", "resource": "messages",
                    "type": "deleted", "data": {"id": "m2"}}]})),
            ),
            (
                search("created"),
                fake::json(&json!({"items": [created("m1", &["c1", "c2"]),
                    created("m2", &["c3"]), created("m3", &["c4"])]})),
            ),
            (
                format!("{BASE}/memberships?roomId=room-1&max=1000"),
                fake::json(&json!({"items": [
                    {"id": "ms1", "personId": "p1", "personEmail": "a@x.test",
                        "personOrgId": "org-1", "isModerator": true},
                    {"id": "ms2", "personId": "g1", "personEmail": "guest@partner.test",
                        "personOrgId": "org-2", "isModerator": false},
                ]})),
            ),
            (format!("{BASE}/contents/c1"), head("plan.pdf")),
            (format!("{BASE}/contents/c2"), head("budget.pdf")),
            (
                format!("{BASE}/contents/c4"),
                fake::error(410, "The requested resource is no longer available."),
            ),
        ]);
        let ctx = fake::ctx(10, None);
        let (pages, host) = host.run(|| sluice_sdk::testing::all_pages(10, |c| list(&ctx, c)));
        let files: Vec<&File> = pages.iter().flat_map(|p| &p.items).collect();
        let ids: Vec<_> = files.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["m1.c1", "m1.c2"], "m2 was deleted, c4 removed");
        assert_eq!(files[0].name, "plan.pdf");
        assert_eq!(files[0].size, Some(2048));
        assert_eq!(files[0].mime_type.as_deref(), Some("application/pdf"));
        assert_eq!(files[0].owner.as_deref(), Some("a@x.test"));
        assert_eq!(files[0].path.as_deref(), Some("room room-1"));
        let heads = host
            .requests()
            .iter()
            .filter(|r| r.method == Method::Head)
            .count();
        assert_eq!(heads, 3, "no HEAD for the deleted message's file");
        // The space's member from org-2 (not config `org_id` org-1) shares both files
        // outside; the space's members are read once for the page.
        for f in &files {
            assert!(f.shared_externally, "{}", f.id);
            let guests: Vec<_> = (f.sharing.principals.iter())
                .filter(|p| p.external)
                .map(|p| (p.id.as_str(), p.role))
                .collect();
            assert_eq!(guests, [("guest@partner.test", ShareRole::Editor)]);
        }
        let member_reads = (host.requests().iter())
            .filter(|r| r.url.contains("/memberships"))
            .count();
        assert_eq!(member_reads, 1);
    }

    #[test]
    fn members_of_the_own_organization_do_not_share_outside() {
        let member = |org: &str| json!({"personEmail": "a@x.test", "personOrgId": org});
        assert_eq!(guest(&member("org-1"), "org-1"), None);
        let outside = guest(&member("org-2"), "org-1").unwrap();
        assert!(outside.external);
        assert_eq!(outside.kind, PrincipalKind::User);
        assert_eq!(guest(&json!({"personEmail": "a@x.test"}), "org-1"), None);
    }

    #[test]
    fn reads_a_range_or_cuts_a_whole_body() {
        let url = format!("{BASE}/contents/c1");
        let partial = Response::new(
            206,
            vec![("content-range".into(), "bytes 2-5/10".into())],
            "2345",
        );
        let (chunk, host) = fake::webex_any_type(vec![(url.clone(), partial)])
            .run(|| read(&fake::ctx(10, None), "m1.c1", 2, 4).unwrap());
        assert_eq!(chunk.data, b"2345");
        assert_eq!((chunk.eof, chunk.size), (false, Some(10)));
        assert_eq!(host.requests()[0].header("range"), Some("bytes=2-5"));

        let whole = Response::new(200, vec![], "0123456789");
        let (chunk, _) = fake::webex_any_type(vec![(url, whole)])
            .run(|| read(&fake::ctx(10, None), "m1.c1", 8, 4).unwrap());
        assert_eq!(chunk.data, b"89");
        assert!(chunk.eof);

        let (result, _) = fake::webex(vec![]).run(|| read(&fake::ctx(10, None), "no-dot", 0, 4));
        assert!(matches!(result, Err(ConnectorError::NotFound(_))));
    }

    #[test]
    fn names_come_from_content_disposition() {
        assert_eq!(
            disposition_name("attachment; filename=\"q3 plan.pdf\"").as_deref(),
            Some("q3 plan.pdf")
        );
        assert_eq!(disposition_name("inline").as_deref(), None);
        assert_eq!(content_id(&format!("{BASE}/contents/abc")), Some("abc"));
        assert_eq!(content_id("https://x.test/other/abc"), None);
    }
}

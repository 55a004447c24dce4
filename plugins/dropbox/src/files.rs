//! Files: every team member's Dropbox, with sharing, and content for inspection.
//!
//! A team app reaches a member's files by acting as them
//! (`Dropbox-API-Select-User: <team_member_id>`), so `list-files` walks the team's
//! members (`team/members/list_v2`, [`MEMBERS_PER_PAGE`] at a time, active and
//! suspended ones) and lists each one's whole Dropbox:
//!
//! ```text
//! POST files/list_folder {"path": "", "recursive": true, "include_has_explicit_shared_members": true, "limit": …}
//! POST files/list_folder/continue {"cursor": …}
//! ```
//!
//! `cursor` / `has_more` paged. That cursor is Dropbox's change feed too: continued
//! after the last page, it returns only what changed since, deletions included
//! (`.tag: deleted` entries), which is what a near-real-time files scan would read if
//! the host kept a files cursor between scans (see the guide).
//!
//! Sharing, read as the same member, once per page:
//!
//! - links: `sharing/list_shared_links` (every link the member made, `cursor` paged),
//!   matched to files by id. A link's `resolved_visibility` `public` or `password`
//!   reaches anyone (`public`), `team_only` / `team_and_password` the team; others
//!   (`shared_folder_only`, `no_one`) add nobody.
//! - a file in a shared folder (`sharing_info.parent_shared_folder_id`): the folder's
//!   members, `sharing/list_folder_members` (+ `/continue`), once per folder and page;
//! - a file with its own members (`has_explicit_shared_members`):
//!   `sharing/list_file_members` (+ `/continue`, `include_inherited: false`).
//!
//! A user, group or invitee is external when Dropbox says it is not `same_team`
//! (invitees without a team account are external). An external principal or a link
//! anyone can open makes the file `shared-externally`.
//!
//! A shared folder is in every member's listing who has it mounted. A file there is
//! listed once, by the folder's owner when a team member owns it; a folder owned
//! outside the team (or one whose members cannot be read) is listed by every member
//! who has it, each as their own file record.
//!
//! A file's id is `{team_member_id}/{file id}` (`dbmid:…/id:…`; neither contains a
//! `/`): the actions and `read-file` must act as the member whose view it is, and the
//! path (`path_display`) is that member's.
//!
//! | Dropbox (`FileMetadata`) | Sluice file |
//! |---|---|
//! | `team_member_id` + `/` + `id` | `id` |
//! | `name`, `path_display` | `name`, `path` |
//! | the member's email (a shared folder's: its owner's) | `owner` |
//! | `size`, `server_modified` | `size`, `modified` |
//! | `content_hash` | `content-hash` `dropbox` |
//!
//! `read-file` is `POST content.dropboxapi.com/2/files/download` with
//! `Dropbox-API-Arg: {"path": "<file id>"}` and `Range: bytes=o-(o+n-1)`, which
//! Dropbox honours (206); a 200 is cut to the window.

use std::collections::BTreeMap;

use serde_json::json;
use sluice_sdk::prelude::*;

use crate::api::{self, Api, MAX_LIST_FOLDER_LIMIT, MAX_MEMBERS_LIMIT};
use crate::members;

/// Members read per page of the members list while listing files: each waits in
/// the cursor until its files are listed.
pub const MEMBERS_PER_PAGE: u32 = 50;
/// Pages of one member's links, or of one file's or folder's members, read at most.
const MAX_SHARING_PAGES: usize = 20;

/// A member whose files are listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// `team_member_id`.
    pub id: String,
    /// Email, the owner of their files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// Where `list-files` is: the member being listed, the members waiting, and the
/// members list's own cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesCursor {
    /// The member being listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<Member>,
    /// Their `files/list_folder` cursor, after their first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    /// Members of the current members page still to list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queue: Vec<Member>,
    /// The members list's cursor, while more members follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<String>,
    /// Whether the members list was read at all.
    #[serde(default)]
    pub started: bool,
}

impl FilesCursor {
    /// Nothing left: every member's files were listed.
    fn finished(&self) -> bool {
        self.started && self.member.is_none() && self.queue.is_empty() && self.members.is_none()
    }
}

/// One page of files: one page of one member's listing.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<FilePage, ConnectorError> {
    let api = Api::new(ctx)?;
    let mut position: FilesCursor = match cursor {
        Some(cursor) => Cursor::decode(cursor)?,
        None => FilesCursor::default(),
    };
    if position.member.is_none() {
        if position.queue.is_empty() && !position.finished() {
            let (page, next) = members::page(&api, position.members.as_deref(), MEMBERS_PER_PAGE)?;
            position.started = true;
            position.members = next;
            position.queue = page.iter().filter_map(listable).collect();
        }
        if position.queue.is_empty() {
            let next = (!position.finished()).then(|| Cursor::encode(&position));
            return Ok(FilePage {
                items: Vec::new(),
                next_cursor: next,
            });
        }
        position.member = Some(position.queue.remove(0));
    }
    let member = position.member.clone().expect("a member is being listed");
    let args = json!({
        "path": "",
        "recursive": true,
        "include_has_explicit_shared_members": true,
        "include_mounted_folders": true,
        "limit": api.limit(MAX_LIST_FOLDER_LIMIT),
    });
    let (entries, next) = api.page(
        "files/list_folder",
        &args,
        position.folder.as_deref(),
        "entries",
        Some(&member.id),
    )?;
    let items = files_of(&api, &member, &entries)?;
    match next {
        Some(next) => position.folder = Some(next),
        None => {
            position.member = None;
            position.folder = None;
        }
    }
    let next_cursor = (!position.finished()).then(|| Cursor::encode(&position));
    Ok(FilePage { items, next_cursor })
}

/// A member whose Dropbox holds files: active or suspended (invited members have
/// none yet, removed ones are gone).
fn listable(member: &Value) -> Option<Member> {
    let status = members::status(member);
    if !matches!(status, UserStatus::Active | UserStatus::Suspended) {
        return None;
    }
    Some(Member {
        id: json::str_at(member, "/profile/team_member_id")?,
        email: json::str_at(member, "/profile/email"),
    })
}

/// A shared folder's members, as one member sees them.
#[derive(Debug, Clone, Default)]
pub struct Folder {
    /// Everyone but the owner.
    pub principals: Vec<SharePrincipal>,
    /// The owner's `team_member_id`, when a team member owns it.
    pub owner_member: Option<String>,
    /// The owner's email.
    pub owner_email: Option<String>,
}

/// The file records of one page of `member`'s listing.
fn files_of(api: &Api, member: &Member, entries: &[Value]) -> Result<Vec<File>, ConnectorError> {
    let files: Vec<&Value> = entries
        .iter()
        .filter(|e| api::tag(e, "").as_deref() == Some("file"))
        .collect();
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let links = member_links(api, &member.id)?;
    let mut folders: BTreeMap<String, Option<Folder>> = BTreeMap::new();
    let mut items = Vec::with_capacity(files.len());
    for entry in files {
        let Some(id) = json::str_at(entry, "id") else {
            continue;
        };
        let folder = match json::str_at(entry, "/sharing_info/parent_shared_folder_id") {
            Some(folder_id) => {
                if !folders.contains_key(&folder_id) {
                    let read = folder_members(api, &member.id, &folder_id)?;
                    folders.insert(folder_id.clone(), read);
                }
                folders.get(&folder_id).cloned().flatten()
            }
            None => None,
        };
        // A team member's shared folder is listed by its owner only.
        if let Some(owner) = folder.as_ref().and_then(|f| f.owner_member.as_deref())
            && owner != member.id
        {
            continue;
        }
        let mut principals = folder
            .as_ref()
            .map(|f| f.principals.clone())
            .unwrap_or_default();
        if json::bool_at(entry, "has_explicit_shared_members") == Some(true) {
            for p in file_members(api, &member.id, &id)? {
                if !principals.iter().any(|q| q.id == p.id) {
                    principals.push(p);
                }
            }
        }
        let owner = folder
            .as_ref()
            .and_then(|f| f.owner_email.clone())
            .or_else(|| member.email.clone());
        let file_links = links.get(&id).cloned().unwrap_or_default();
        items.push(file(member, entry, owner, file_links, principals));
    }
    Ok(items)
}

/// The file record of listing entry `entry` of `member`.
pub fn file(
    member: &Member,
    entry: &Value,
    owner: Option<String>,
    links: Vec<ShareLink>,
    principals: Vec<SharePrincipal>,
) -> File {
    let id = json::str_at(entry, "id").unwrap_or_default();
    let name = json::str_at(entry, "name").unwrap_or_else(|| id.clone());
    let public = links.iter().any(|l| l.audience == LinkAudience::Anyone);
    File {
        path: json::str_at(entry, "path_display"),
        owner,
        mime_type: name
            .rsplit_once('.')
            .and_then(|(_, ext)| mime_type(ext))
            .map(str::to_owned),
        size: json::i64_at(entry, "size").and_then(|s| u64::try_from(s).ok()),
        modified: json::timestamp_at(entry, "server_modified"),
        shared_externally: public || principals.iter().any(|p| p.external),
        public,
        sharing: Sharing { links, principals },
        content_hash: json::str_at(entry, "content_hash").map(|value| ContentHash {
            algorithm: "dropbox".into(),
            value,
        }),
        ..File::new(file_id(&member.id, &id), name, json::raw(entry))
    }
}

/// The record id of file `id` in `member`'s Dropbox.
pub fn file_id(member: &str, id: &str) -> String {
    format!("{member}/{id}")
}

/// A record id's member and Dropbox file id.
pub fn split_id(id: &str) -> Result<(&str, &str), ConnectorError> {
    id.trim()
        .split_once('/')
        .filter(|(m, f)| !m.is_empty() && f.starts_with("id:"))
        .ok_or_else(|| {
            ConnectorError::not_found(format!(
                "`{id}` is not a Dropbox file id of this connector (`<team_member_id>/id:…`)"
            ))
        })
}

/// Every link `member` made, by file id.
fn member_links(
    api: &Api,
    member: &str,
) -> Result<BTreeMap<String, Vec<ShareLink>>, ConnectorError> {
    let mut by_file: BTreeMap<String, Vec<ShareLink>> = BTreeMap::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_SHARING_PAGES {
        // list_shared_links has no `/continue`: the cursor goes back in the same route.
        let args = match &cursor {
            Some(c) => json!({"cursor": c}),
            None => json!({}),
        };
        let request = api::as_member(api.rpc("sharing/list_shared_links", &args), member);
        let (links, next) = api::items_and_cursor(api.call(request)?, "links");
        for link in &links {
            if let (Some(file), Some(share)) = (json::str_at(link, "id"), share_link(link)) {
                by_file.entry(file).or_default().push(share);
            }
        }
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok(by_file),
        }
    }
    log::warn(format_args!(
        "member {member} has more than {MAX_SHARING_PAGES} pages of shared links; only \
         those read are listed"
    ));
    Ok(by_file)
}

/// A shared link as Sluice sees it; none for a link that reaches nobody new.
pub fn share_link(link: &Value) -> Option<ShareLink> {
    let visibility = api::tag(link, "/link_permissions/resolved_visibility")
        .or_else(|| api::tag(link, "/link_permissions/effective_audience"));
    let audience = match visibility.as_deref() {
        Some("public" | "password") => LinkAudience::Anyone,
        Some("team_only" | "team_and_password" | "team") => LinkAudience::Organization,
        _ => return None,
    };
    let role = match api::tag(link, "/link_permissions/link_access_level").as_deref() {
        Some("editor") => ShareRole::Editor,
        _ => ShareRole::Viewer,
    };
    Some(ShareLink {
        audience,
        domain: None,
        role,
        expires: json::timestamp_at(link, "expires"),
    })
}

/// What an `access_type` allows.
fn role(access: Option<&str>) -> ShareRole {
    match access {
        Some("owner") => ShareRole::Owner,
        Some("editor") => ShareRole::Editor,
        Some("viewer") => ShareRole::Commenter,
        _ => ShareRole::Viewer,
    }
}

/// The principals of one `SharedFileMembers` / `SharedFolderMembers` page: users,
/// groups and invitees, owners aside, and the owner.
pub fn principals(page: &Value) -> Folder {
    let mut found = Folder::default();
    let list = |key: &str| {
        json::at(page, key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    for u in list("users") {
        let access = api::tag(&u, "/access_type");
        if access.as_deref() == Some("owner") {
            found.owner_member = json::str_at(&u, "/user/team_member_id");
            found.owner_email = json::str_at(&u, "/user/email");
            continue;
        }
        let id = json::str_at(&u, "/user/email").or_else(|| json::str_at(&u, "/user/account_id"));
        let Some(id) = id else {
            continue;
        };
        found.principals.push(SharePrincipal {
            id,
            kind: PrincipalKind::User,
            external: json::bool_at(&u, "/user/same_team") != Some(true),
            role: role(access.as_deref()),
        });
    }
    for g in list("groups") {
        let Some(id) = json::str_at(&g, "/group/group_id") else {
            continue;
        };
        found.principals.push(SharePrincipal {
            id,
            kind: PrincipalKind::Group,
            external: json::bool_at(&g, "/group/same_team") == Some(false),
            role: role(api::tag(&g, "/access_type").as_deref()),
        });
    }
    for i in list("invitees") {
        let Some(id) = json::str_at(&i, "/invitee/email") else {
            continue;
        };
        found.principals.push(SharePrincipal {
            id,
            kind: PrincipalKind::User,
            external: json::bool_at(&i, "/user/same_team") != Some(true),
            role: role(api::tag(&i, "/access_type").as_deref()),
        });
    }
    found
}

/// Reads every page of a members list as `member`: `route` with `args`, then
/// `route/continue`; none (with a warning) when Dropbox refuses it.
fn all_members(
    api: &Api,
    member: &str,
    route: &str,
    args: &Value,
) -> Result<Option<Folder>, ConnectorError> {
    let mut all = Folder::default();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_SHARING_PAGES {
        let request = match &cursor {
            Some(c) => api.rpc(&format!("{route}/continue"), &json!({"cursor": c})),
            None => api.rpc(route, args),
        };
        let page = match api.call_or_route_error(api::as_member(request, member))? {
            Ok(page) => page,
            Err(error) => {
                log::warn(format_args!(
                    "{route} as {member} answered {}; its members are not listed",
                    error.summary
                ));
                return Ok(None);
            }
        };
        let found = principals(&page);
        all.principals.extend(found.principals);
        all.owner_member = all.owner_member.or(found.owner_member);
        all.owner_email = all.owner_email.or(found.owner_email);
        // These lists return a cursor only while more members follow.
        match json::str_at(&page, "cursor").filter(|c| !c.is_empty()) {
            Some(next) => cursor = Some(next),
            None => return Ok(Some(all)),
        }
    }
    Ok(Some(all))
}

/// Shared folder `folder`'s members as `member` sees them; none when unreadable.
fn folder_members(api: &Api, member: &str, folder: &str) -> Result<Option<Folder>, ConnectorError> {
    let args = json!({"shared_folder_id": folder, "limit": MAX_MEMBERS_LIMIT});
    all_members(api, member, "sharing/list_folder_members", &args)
}

/// File `file`'s own members (not the folder's), as `member` sees them.
fn file_members(
    api: &Api,
    member: &str,
    file: &str,
) -> Result<Vec<SharePrincipal>, ConnectorError> {
    let args = json!({"file": file, "include_inherited": false, "limit": MAX_MEMBERS_LIMIT});
    let read = all_members(api, member, "sharing/list_file_members", &args)?;
    Ok(read.map(|f| f.principals).unwrap_or_default())
}

/// The media type of a file extension, for the common ones.
pub fn mime_type(extension: &str) -> Option<&'static str> {
    Some(match extension.to_ascii_lowercase().as_str() {
        "pdf" => "application/pdf",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "doc" => "application/msword",
        "xls" => "application/vnd.ms-excel",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "json" => "application/json",
        "zip" => "application/zip",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        _ => return None,
    })
}

/// Up to `length` bytes of file `id` from `offset`.
pub fn read(
    ctx: &Context,
    id: &str,
    offset: u64,
    length: u32,
) -> Result<FileChunk, ConnectorError> {
    let api = Api::new(ctx)?;
    let (member, file) = split_id(id)?;
    let arg = json!({"path": file}).to_string();
    let request = http::post(api.content_url("files/download"))
        .header("dropbox-api-arg", arg)
        .header("range", files::range(offset, length));
    let response = api::as_member(request, member).send()?;
    files::ranged(response, offset, length, None, api::check_status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::fake;

    fn member(id: &str, email: &str) -> Value {
        json!({"profile": {"team_member_id": id, "email": email, "status": {".tag": "active"}}, "roles": []})
    }

    fn entry(id: &str, path: &str, folder: Option<&str>, explicit: bool) -> Value {
        let mut e = json!({".tag": "file", "id": id, "name": path.rsplit('/').next().unwrap(),
            "path_display": path, "path_lower": path.to_lowercase(), "size": 10,
            "server_modified": "2023-12-30T10:00:00Z", "rev": "1", "content_hash": "abc",
            "has_explicit_shared_members": explicit});
        if let Some(f) = folder {
            e["sharing_info"] = json!({"read_only": false, "parent_shared_folder_id": f});
        }
        e
    }

    fn user(email: &str, member: Option<&str>, same_team: bool, access: &str) -> Value {
        json!({"access_type": {".tag": access}, "user": {"account_id": format!("dbid:{email}"),
            "email": email, "same_team": same_team, "team_member_id": member}, "permissions": [],
            "is_inherited": false})
    }

    #[test]
    fn members_files_are_listed_once_with_their_sharing() {
        let host = fake::dropbox(|r| {
            let as_member = r.header("dropbox-api-select-user").map(str::to_owned);
            match (fake::route(r), as_member.as_deref()) {
                ("team/members/list_v2", None) => {
                    assert_eq!(fake::body(r)["limit"], json!(MEMBERS_PER_PAGE));
                    fake::json(&json!({"members": [member("dbmid:a", "a@x.test"),
                        member("dbmid:b", "b@x.test"),
                        {"profile": {"team_member_id": "dbmid:c", "status": {".tag": "invited"}}}],
                        "cursor": "m", "has_more": false}))
                }
                ("files/list_folder", Some("dbmid:a")) => fake::json(&json!({"entries": [
                    {".tag": "folder", "id": "id:f", "name": "Shared", "path_display": "/Shared",
                        "sharing_info": {"read_only": false, "shared_folder_id": "sf1"}},
                    entry("id:1", "/Shared/plan.pdf", Some("sf1"), false),
                ], "cursor": "a1", "has_more": true})),
                ("files/list_folder/continue", Some("dbmid:a")) => fake::json(&json!({"entries": [
                    entry("id:2", "/private.txt", None, true),
                ], "cursor": "a2", "has_more": false})),
                ("files/list_folder", Some("dbmid:b")) => fake::json(&json!({"entries": [
                    entry("id:1", "/Shared/plan.pdf", Some("sf1"), false),
                    entry("id:3", "/notes.txt", None, false),
                ], "cursor": "b1", "has_more": false})),
                ("sharing/list_shared_links", Some("dbmid:a")) => fake::json(&json!({"links": [
                    {".tag": "file", "id": "id:1", "url": "https://db.test/s/1",
                        "link_permissions": {"resolved_visibility": {".tag": "public"}}},
                    {".tag": "file", "id": "id:2", "url": "https://db.test/s/2",
                        "link_permissions": {"resolved_visibility": {".tag": "team_only"}}},
                ], "has_more": false})),
                ("sharing/list_shared_links", Some(_)) => {
                    fake::json(&json!({"links": [], "has_more": false}))
                }
                ("sharing/list_folder_members", Some(_)) => fake::json(&json!({
                    "users": [user("a@x.test", Some("dbmid:a"), true, "owner"),
                        user("b@x.test", Some("dbmid:b"), true, "editor"),
                        user("guest@y.test", None, false, "viewer")],
                    "groups": [], "invitees": []})),
                ("sharing/list_file_members", Some("dbmid:a")) => {
                    assert_eq!(fake::body(r)["include_inherited"], json!(false));
                    fake::json(&json!({"users": [], "groups": [],
                        "invitees": [{"access_type": {".tag": "viewer"},
                            "invitee": {".tag": "email", "email": "new@z.test"}}]}))
                }
                other => panic!("{other:?}"),
            }
        });
        let ctx = fake::ctx(100, None);
        let (pages, host) = host.run(|| sluice_sdk::testing::all_pages(10, |c| list(&ctx, c)));
        let files: Vec<&File> = pages.iter().flat_map(|p| &p.items).collect();
        let ids: Vec<&str> = files.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(
            ids,
            ["dbmid:a/id:1", "dbmid:a/id:2", "dbmid:b/id:3"],
            "b does not list a's folder"
        );
        let plan = files[0];
        assert!(plan.public && plan.shared_externally);
        let shared: Vec<_> = plan
            .sharing
            .principals
            .iter()
            .map(|p| (p.id.as_str(), p.external))
            .collect();
        assert_eq!(shared, [("b@x.test", false), ("guest@y.test", true)]);
        assert_eq!(plan.owner.as_deref(), Some("a@x.test"));
        assert_eq!(plan.content_hash.as_ref().unwrap().algorithm, "dropbox");
        assert_eq!(plan.mime_type.as_deref(), Some("application/pdf"));
        let private = files[1];
        assert!(!private.public);
        assert_eq!(
            private.sharing.links[0].audience,
            LinkAudience::Organization
        );
        assert!(
            private.shared_externally,
            "an invitee without a team account"
        );
        assert!(!files[2].shared_externally);
        assert_eq!(files[2].path.as_deref(), Some("/notes.txt"));
        let folder_reads = host
            .requests()
            .iter()
            .filter(|r| fake::route(r) == "sharing/list_folder_members")
            .count();
        assert_eq!(
            folder_reads, 2,
            "once per member page that holds the folder"
        );
        for r in host.requests() {
            if fake::route(r).starts_with("files/") || fake::route(r).starts_with("sharing/") {
                assert!(r.header("dropbox-api-select-user").is_some(), "{}", r.url);
            }
        }
    }

    #[test]
    fn the_published_listing_and_sharing_parse() {
        let (Some(listing), Some(links), Some(file_members)) = (
            fake::fixture("files-list_folder-with-sharing_info"),
            fake::fixture("sharing-list_shared_links"),
            fake::fixture("sharing-list_file_members"),
        ) else {
            return;
        };
        let link = share_link(&links["links"][0]).unwrap();
        assert_eq!(link.audience, LinkAudience::Anyone);
        let read = principals(&file_members);
        assert_eq!(read.owner_member.as_deref(), Some("dbmid:abcd1234"));
        assert_eq!(read.owner_email.as_deref(), Some("bob@example.com"));
        let principals = read.principals;
        let found: Vec<_> = principals
            .iter()
            .map(|p| (p.id.as_str(), p.kind, p.external))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "g:e2db7665347abcd600000000001a2b3c",
                    PrincipalKind::Group,
                    false
                ),
                ("jessica@example.com", PrincipalKind::User, true)
            ]
        );
        let m = Member {
            id: "dbmid:abcd1234".into(),
            email: Some("bob@example.com".into()),
        };
        let f = file(
            &m,
            &listing["entries"][0],
            m.email.clone(),
            vec![link],
            principals,
        );
        assert_eq!(f.id, "dbmid:abcd1234/id:a4ayc_80_OEAAAAAAAAAXw");
        assert_eq!(f.name, "Prime_Numbers.txt");
        assert_eq!(f.path.as_deref(), Some("/Homework/math/Prime_Numbers.txt"));
        assert_eq!(f.size, Some(7212));
        assert!(f.public && f.shared_externally);
        assert_eq!(
            f.content_hash.unwrap().value,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn reads_a_range_as_the_member_with_the_argument_header() {
        let host = fake::dropbox(|r| {
            assert_eq!(fake::route(r), "files/download");
            assert!(r.url.starts_with(fake::CONTENT));
            assert_eq!(r.header("dropbox-api-select-user"), Some("dbmid:a"));
            assert_eq!(r.header("dropbox-api-arg"), Some(r#"{"path":"id:1"}"#));
            assert_eq!(r.header("range"), Some("bytes=2-5"));
            Response::new(
                206,
                vec![("content-range".into(), "bytes 2-5/10".into())],
                "2345",
            )
        });
        let (chunk, _) = host.run(|| read(&fake::ctx(10, None), "dbmid:a/id:1", 2, 4).unwrap());
        assert_eq!(chunk.data, b"2345");
        assert_eq!((chunk.eof, chunk.size), (false, Some(10)));
        let (result, _) =
            fake::dropbox(|_| unreachable!()).run(|| read(&fake::ctx(10, None), "id:1", 0, 4));
        assert!(matches!(result, Err(ConnectorError::NotFound(_))));
    }
}

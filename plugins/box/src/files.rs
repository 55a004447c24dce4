//! Files: every managed user's files, with their shared links, collaborations and
//! classification, and their content for inspection.
//!
//! The enterprise's service account sees only its own content, so `list-files` walks
//! each user's tree **as that user** (`As-User`): first the users (`GET /2.0/users`,
//! marker-paged), then, user by user, from their root folder `0` down,
//! `GET /2.0/folders/{id}/items` (marker-paged, `limit` up to 1000, with `fields`).
//! An item in a user's root that another user owns (a folder or file collaborated with
//! them) is left to its owner's walk, so each file is listed once: in Box everything
//! in a folder belongs to the folder's owner. Web links are not files and are skipped.
//!
//! A file's record id is `{file id}@{owner id}`: `read-file` and the actions must act
//! as the owner, and the target is all they get. A bare file id is read as the
//! service account.
//!
//! Sharing, as data:
//! - the `shared_link` (its `effective_access`, which an enterprise policy may narrow,
//!   else `access`): `open` is a link for anyone (the file is `public` and shared
//!   externally), `company` one for the enterprise; `collaborators` reaches only the
//!   collaborators listed below and is no link of its own;
//! - collaborations on the file (`GET /2.0/files/{id}/collaborations`) and on every
//!   folder above it in the owner's tree (`GET /2.0/folders/{id}/collaborations`,
//!   read once per collaborated folder and carried down in the cursor), asked only
//!   for items whose `has_collaborations` is true. A user collaborator is named by
//!   login, a group by id, a pending invitation by its `invite_email`; a login whose
//!   domain is not one of the enterprise's is external, and shares the file outside.
//!
//! The enterprise's domains are the `internal_domains` config field, or else the
//! domains of its users' logins, read in a first pass over the users.
//!
//! Labels: the Box Shield classification, from the item's `classification.name` or
//! the `securityClassification-6VMVochwUWo` metadata instance's
//! `Box__Security__Classification__Key`, asked for in `fields`.
//!
//! `read-file` is `GET /2.0/files/{id}/content` with `Range`; Box answers `302 Found`
//! with a short-lived download URL (`https://dl.boxcloud.com/…`, the `download_url`
//! egress), which the connector follows itself (the host follows no redirects) with
//! the same `Range`, or `202 Accepted` with `Retry-After` while the file is not ready.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sluice_sdk::prelude::*;

use crate::api::{self, Api, MAX_LIMIT};
use crate::users;

/// Box's classification metadata template key.
pub const CLASSIFICATION_TEMPLATE: &str = "securityClassification-6VMVochwUWo";
/// The classification template's field holding the classification's name.
pub const CLASSIFICATION_KEY: &str = "Box__Security__Classification__Key";

/// The item fields read: what a file record needs.
pub const FIELDS: &str = "id,type,name,size,sha1,extension,created_at,modified_at,\
content_modified_at,owned_by,shared_link,has_collaborations,item_status,classification";

/// Pages of one item's collaborations read at most.
const COLLABORATION_PAGES: usize = 10;
/// Folders waiting in the cursor at most; more are logged and left out.
pub const MAX_QUEUE: usize = 20_000;

/// Which pass of the walk a page comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Pass {
    /// Reading the users for the enterprise's login domains.
    #[default]
    Domains,
    /// Walking each user's tree.
    Walk,
}

/// A principal carried down the tree from a collaborated folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Principal {
    id: String,
    group: bool,
    external: bool,
    role: String,
}

/// A folder to list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Folder {
    id: String,
    /// Its path from the owner's root, `/`-separated (empty for the root).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    path: String,
    /// Collaborators of this folder and the folders above it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    shared: Vec<Principal>,
}

/// The walk's position: the cursor of `list-files`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Walk {
    #[serde(default)]
    pass: Pass,
    /// The next users page's marker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    users_marker: Option<String>,
    /// No users page is left to read in this pass.
    #[serde(default)]
    users_done: bool,
    /// The enterprise's login domains, lower case.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    domains: BTreeSet<String>,
    /// Users of the last users page not walked yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pending: Vec<String>,
    /// The user whose tree is walked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    /// Folders left to list in that tree; the first is being listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    queue: Vec<Folder>,
    /// The next page of the first folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    marker: Option<String>,
}

/// One page of files.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<FilePage, ConnectorError> {
    let api = Api::new(ctx)?;
    let mut walk = match cursor {
        Some(cursor) => Cursor::decode::<Walk>(cursor)?,
        None => start(),
    };
    let items = match walk.pass {
        Pass::Domains => {
            read_domains(&api, &mut walk)?;
            Vec::new()
        }
        Pass::Walk => step(&api, &mut walk)?,
    };
    let done = walk.pass == Pass::Walk
        && walk.users_done
        && walk.pending.is_empty()
        && walk.queue.is_empty();
    Ok(FilePage {
        items,
        next_cursor: (!done).then(|| Cursor::encode(&walk)),
    })
}

/// The first position: the domains pass, unless `internal_domains` names them.
fn start() -> Walk {
    let configured: BTreeSet<String> = config::get("internal_domains")
        .unwrap_or_default()
        .split(',')
        .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .collect();
    Walk {
        pass: if configured.is_empty() {
            Pass::Domains
        } else {
            Pass::Walk
        },
        domains: configured,
        ..Walk::default()
    }
}

/// Reads one users page's login domains; after the last, the walk starts.
fn read_domains(api: &Api, walk: &mut Walk) -> Result<(), ConnectorError> {
    let (found, marker) = users::page(api, walk.users_marker.as_deref(), MAX_LIMIT)?;
    walk.domains.extend(
        found
            .iter()
            .filter_map(|u| json::str_at(u, "login"))
            .filter_map(|login| domain_of(&login)),
    );
    walk.users_marker = marker;
    if walk.users_marker.is_none() {
        walk.pass = Pass::Walk;
    }
    Ok(())
}

/// The lower-case domain of a login or email.
pub fn domain_of(login: &str) -> Option<String> {
    let (_, domain) = login.rsplit_once('@')?;
    let domain = domain.trim().to_ascii_lowercase();
    (!domain.is_empty()).then_some(domain)
}

/// One step of the walk: a users page when no user is left, else one page of the
/// current folder. Returns the files found.
fn step(api: &Api, walk: &mut Walk) -> Result<Vec<File>, ConnectorError> {
    if walk.queue.is_empty() {
        if walk.pending.is_empty() {
            if walk.users_done {
                return Ok(Vec::new());
            }
            let (found, marker) = users::page(api, walk.users_marker.as_deref(), MAX_LIMIT)?;
            walk.pending = found.iter().filter_map(|u| json::str_at(u, "id")).collect();
            walk.users_done = marker.is_none();
            walk.users_marker = marker;
        }
        if walk.pending.is_empty() {
            return Ok(Vec::new());
        }
        walk.user = Some(walk.pending.remove(0));
        walk.queue = vec![Folder {
            id: "0".into(),
            path: String::new(),
            shared: Vec::new(),
        }];
        walk.marker = None;
    }
    let user = walk.user.clone().unwrap_or_default();
    let folder = walk.queue[0].clone();
    let segment = action::target_segment(&folder.id)?;
    let mut request = api
        .get(&format!("/folders/{segment}/items"))
        .query("usemarker", "true")
        .query("limit", api.limit(MAX_LIMIT))
        .query("fields", fields());
    if let Some(marker) = &walk.marker {
        request = request.query("marker", marker);
    }
    let response = api::as_user(request, Some(&user)).send()?;
    if response.status() == 404 {
        // Deleted since it was queued, or the user since it was listed.
        log::info(format_args!(
            "folder {} of user {user} is gone: {}",
            folder.id,
            api::message(&response)
        ));
        walk.queue.remove(0);
        walk.marker = None;
        return Ok(Vec::new());
    }
    let (entries, marker) = api::entries_and_marker(response.error_for_status()?.json_value()?);
    let mut files = Vec::new();
    for item in &entries {
        let owner = json::str_at(item, "/owned_by/id");
        if folder.id == "0" && owner.as_deref().is_some_and(|o| o != user) {
            continue;
        }
        let Some(id) = json::str_at(item, "id") else {
            continue;
        };
        let name = json::str_at(item, "name").unwrap_or_else(|| id.clone());
        let collaborated = json::bool_at(item, "has_collaborations").unwrap_or(false);
        match json::str_at(item, "type").as_deref() {
            Some("folder") => {
                let mut shared = folder.shared.clone();
                if collaborated {
                    shared.extend(collaborators(api, "folders", &id, &user, &walk.domains)?);
                }
                if walk.queue.len() < MAX_QUEUE {
                    walk.queue.push(Folder {
                        id,
                        path: join(&folder.path, &name),
                        shared,
                    });
                } else {
                    log::warn(format_args!(
                        "more than {MAX_QUEUE} folders wait in user {user}'s tree; folder {id} \
                         is left out of this scan"
                    ));
                }
            }
            Some("file") => {
                let mut shared = folder.shared.clone();
                if collaborated {
                    shared.extend(collaborators(api, "files", &id, &user, &walk.domains)?);
                }
                if let Some(file) = file(item, &folder.path, &user, &shared) {
                    files.push(file);
                }
            }
            _ => {}
        }
    }
    match marker {
        Some(marker) => walk.marker = Some(marker),
        None => {
            walk.queue.remove(0);
            walk.marker = None;
        }
    }
    Ok(files)
}

/// `fields` for folder items: [`FIELDS`] and, with an `enterprise_id`, the
/// classification metadata instance.
fn fields() -> String {
    match config::get("enterprise_id") {
        Some(enterprise) => {
            format!("{FIELDS},metadata.enterprise_{enterprise}.{CLASSIFICATION_TEMPLATE}")
        }
        None => FIELDS.to_owned(),
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}/{name}")
    }
}

/// The collaborators of `kind` (`files` or `folders`) item `id`, as `user` sees them.
fn collaborators(
    api: &Api,
    kind: &str,
    id: &str,
    user: &str,
    domains: &BTreeSet<String>,
) -> Result<Vec<Principal>, ConnectorError> {
    Ok(collaborations(api, kind, id, Some(user))?
        .iter()
        .filter_map(|c| principal(c, domains))
        .collect())
}

/// Every collaboration on `kind` item `id` (marker-paged, bounded), as `user`.
pub fn collaborations(
    api: &Api,
    kind: &str,
    id: &str,
    user: Option<&str>,
) -> Result<Vec<Value>, ConnectorError> {
    let segment = action::target_segment(id)?;
    let mut all = Vec::new();
    let mut marker: Option<String> = None;
    for _ in 0..COLLABORATION_PAGES {
        let mut request = api
            .get(&format!("/{kind}/{segment}/collaborations"))
            .query("limit", MAX_LIMIT);
        if let Some(marker) = &marker {
            request = request.query("marker", marker);
        }
        let (entries, next) = api::entries_and_marker(api.fetch(api::as_user(request, user))?);
        all.extend(entries);
        match next {
            Some(next) => marker = Some(next),
            None => return Ok(all),
        }
    }
    log::warn(format_args!(
        "{kind} {id} has more collaborations than {COLLABORATION_PAGES} pages; only those read \
         are listed"
    ));
    Ok(all)
}

/// The id a collaboration names its collaborator by: a user's login, a group's id, a
/// pending invitation's email.
pub fn collaborator_id(collaboration: &Value) -> Option<(String, bool)> {
    match json::str_at(collaboration, "/accessible_by/type").as_deref() {
        Some("group") => json::str_at(collaboration, "/accessible_by/id").map(|id| (id, true)),
        Some(_) => json::str_at(collaboration, "/accessible_by/login")
            .or_else(|| json::str_at(collaboration, "/accessible_by/id"))
            .map(|id| (id, false)),
        None => json::str_at(collaboration, "invite_email").map(|email| (email, false)),
    }
}

/// The principal of an accepted or pending collaboration.
fn principal(collaboration: &Value, domains: &BTreeSet<String>) -> Option<Principal> {
    if json::str_at(collaboration, "status").as_deref() == Some("rejected") {
        return None;
    }
    let (id, group) = collaborator_id(collaboration)?;
    let external = !group && domain_of(&id).is_some_and(|d| !domains.contains(&d));
    Some(Principal {
        id,
        group,
        external,
        role: json::str_at(collaboration, "role").unwrap_or_default(),
    })
}

/// A Box collaboration role as a share role.
pub fn share_role(role: &str) -> ShareRole {
    match role {
        "co-owner" | "owner" => ShareRole::Owner,
        "editor" | "uploader" => ShareRole::Editor,
        _ => ShareRole::Viewer,
    }
}

/// The link of a file's `shared_link`, if it reaches more than its collaborators.
pub fn link(shared_link: &Value) -> Option<ShareLink> {
    let access = json::str_at(shared_link, "effective_access")
        .or_else(|| json::str_at(shared_link, "access"))?;
    let audience = match access.as_str() {
        "open" => LinkAudience::Anyone,
        "company" => LinkAudience::Organization,
        _ => return None,
    };
    let can_edit = json::str_at(shared_link, "effective_permission").as_deref() == Some("can_edit")
        || json::bool_at(shared_link, "/permissions/can_edit").unwrap_or(false);
    Some(ShareLink {
        audience,
        domain: None,
        role: if can_edit {
            ShareRole::Editor
        } else {
            ShareRole::Viewer
        },
        expires: json::timestamp_at(shared_link, "unshared_at"),
    })
}

/// The classification of an item: `classification.name`, else the classification
/// metadata instance's key (in any enterprise scope).
pub fn classification(item: &Value) -> Option<String> {
    if let Some(name) = json::str_at(item, "/classification/name").filter(|n| !n.is_empty()) {
        return Some(name);
    }
    let scopes = json::at(item, "metadata")?.as_object()?;
    scopes.values().find_map(|templates| {
        json::str_at(templates.get(CLASSIFICATION_TEMPLATE)?, CLASSIFICATION_KEY)
            .filter(|k| !k.is_empty())
    })
}

/// A media type for common extensions; none for the rest.
pub fn mime_of(extension: &str) -> Option<&'static str> {
    Some(match extension.to_ascii_lowercase().as_str() {
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "json" => "application/json",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "zip" => "application/zip",
        _ => return None,
    })
}

/// The file record for a Box file item in folder `path` of `user`'s tree, shared with
/// the principals `shared` besides its link; none without an id.
fn file(item: &Value, path: &str, user: &str, shared: &[Principal]) -> Option<File> {
    let id = json::str_at(item, "id")?;
    let owner = json::str_at(item, "/owned_by/id").unwrap_or_else(|| user.to_owned());
    let mut record = record(item)?;
    record.id = format!("{id}@{owner}");
    record.path = Some(format!("/{path}"));
    let mut principals: Vec<SharePrincipal> = Vec::new();
    for p in shared {
        if !principals.iter().any(|q| q.id == p.id) {
            principals.push(SharePrincipal {
                id: p.id.clone(),
                kind: if p.group {
                    PrincipalKind::Group
                } else {
                    PrincipalKind::User
                },
                external: p.external,
                role: share_role(&p.role),
            });
        }
    }
    record.shared_externally = record.public || principals.iter().any(|p| p.external);
    record.sharing.principals = principals;
    Some(record)
}

/// The record fields one Box file object gives by itself (id = Box's file id).
pub fn record(item: &Value) -> Option<File> {
    let id = json::str_at(item, "id")?;
    let name = json::str_at(item, "name").unwrap_or_else(|| id.clone());
    let links: Vec<ShareLink> = json::at(item, "shared_link")
        .and_then(link)
        .into_iter()
        .collect();
    let public = links.iter().any(|l| l.audience == LinkAudience::Anyone);
    let extension = json::str_at(item, "extension")
        .or_else(|| name.rsplit_once('.').map(|(_, ext)| ext.to_owned()));
    Some(File {
        owner: json::str_at(item, "/owned_by/login").or_else(|| json::str_at(item, "/owned_by/id")),
        mime_type: extension.as_deref().and_then(mime_of).map(str::to_owned),
        size: json::i64_at(item, "size").and_then(|s| u64::try_from(s).ok()),
        modified: json::timestamp_at(item, "content_modified_at")
            .or_else(|| json::timestamp_at(item, "modified_at")),
        public,
        shared_externally: public,
        sharing: Sharing {
            links,
            principals: Vec::new(),
        },
        labels: classification(item).into_iter().collect(),
        content_hash: json::str_at(item, "sha1").map(|value| ContentHash {
            algorithm: "sha1".into(),
            value,
        }),
        ..File::new(id, name, json::raw(item))
    })
}

/// A record id's Box file id and the user to act as (none for a bare file id).
pub fn split_id(id: &str) -> Result<(String, Option<String>), ConnectorError> {
    let id = id.trim();
    let (file, user) = match id.split_once('@') {
        Some((file, user)) => (file, Some(user)),
        None => (id, None),
    };
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !numeric(file) || user.is_some_and(|u| !numeric(u)) {
        return Err(ConnectorError::not_found(format!(
            "`{id}` is not a Box file id (`<file id>@<owner id>` or `<file id>`)"
        )));
    }
    Ok((file.to_owned(), user.map(str::to_owned)))
}

/// Up to `length` bytes of file `id`'s content from `offset`.
pub fn read(
    ctx: &Context,
    id: &str,
    offset: u64,
    length: u32,
) -> Result<FileChunk, ConnectorError> {
    let api = Api::new(ctx)?;
    let (file, user) = split_id(id)?;
    let request = http::get(api.url(&format!("/files/{file}/content")))
        .header("range", files::range(offset, length));
    let response = api::as_user(request, user.as_deref()).send()?;
    let response = match response.status() {
        301 | 302 | 303 | 307 | 308 => {
            let location = response.header("location").ok_or_else(|| {
                ConnectorError::upstream(format!(
                    "Box answered {} for file {file}'s content without a Location",
                    response.status()
                ))
            })?;
            http::get(location)
                .header("range", files::range(offset, length))
                .send()?
        }
        202 => return Err(ConnectorError::RateLimited(response.retry_after())),
        _ => response,
    };
    files::ranged(response, offset, length, None, |r| r.error_for_status())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake::{self, BASE};

    fn items_url(folder: &str, marker: Option<&str>) -> String {
        let mut url = format!(
            "{BASE}/folders/{folder}/items?usemarker=true&limit=1000&fields={}",
            http::encode_component(&format!(
                "{FIELDS},metadata.enterprise_777.{CLASSIFICATION_TEMPLATE}"
            ))
        );
        if let Some(m) = marker {
            url.push_str(&format!("&marker={m}"));
        }
        url
    }

    fn users_url() -> String {
        format!(
            "{BASE}/users?usemarker=true&limit=1000&fields={}",
            http::encode_component(users::FIELDS)
        )
    }

    fn owner(id: &str) -> Value {
        json!({"type": "user", "id": id, "login": format!("u{id}@acme.test")})
    }

    #[test]
    fn walks_each_users_tree_as_that_user_with_links_collaborators_and_labels() {
        let host = fake::boxed(vec![
            (
                users_url(),
                fake::json(&json!({"entries": [
                    {"type": "user", "id": "1", "login": "u1@acme.test"},
                    {"type": "user", "id": "2", "login": "u2@ACME.test"}]})),
            ),
            (
                items_url("0", None),
                fake::json(&json!({"entries": [
                    {"type": "folder", "id": "10", "name": "Deals", "owned_by": owner("1"),
                        "has_collaborations": true},
                    {"type": "file", "id": "100", "name": "a.pdf", "size": 5, "sha1": "ab",
                        "owned_by": owner("1"), "has_collaborations": false,
                        "shared_link": {"access": "open", "effective_access": "open",
                            "effective_permission": "can_download"},
                        "classification": {"name": "Confidential"}},
                    {"type": "web_link", "id": "7", "name": "link"},
                    {"type": "folder", "id": "20", "name": "Not mine", "owned_by": owner("2")}],
                    "next_marker": "m2"})),
            ),
            (
                items_url("0", Some("m2")),
                fake::json(&json!({"entries": [], "next_marker": null})),
            ),
            (
                format!("{BASE}/folders/10/collaborations?limit=1000"),
                fake::json(&json!({"entries": [
                    {"type": "collaboration", "id": "c1", "status": "accepted", "role": "editor",
                        "accessible_by": {"type": "user", "id": "99", "login": "guest@partner.test"}},
                    {"type": "collaboration", "id": "c2", "status": "accepted", "role": "viewer",
                        "accessible_by": {"type": "group", "id": "g1", "name": "Sales"}},
                    {"type": "collaboration", "id": "c3", "status": "rejected", "role": "viewer",
                        "accessible_by": {"type": "user", "id": "98", "login": "no@partner.test"}}]})),
            ),
            (
                items_url("10", None),
                fake::json(&json!({"entries": [
                    {"type": "file", "id": "101", "name": "b.docx", "owned_by": owner("1"),
                        "has_collaborations": true,
                        "metadata": {"enterprise_777": {CLASSIFICATION_TEMPLATE:
                            {CLASSIFICATION_KEY: "Internal"}}}}]})),
            ),
            (
                format!("{BASE}/files/101/collaborations?limit=1000"),
                fake::json(&json!({"entries": [
                    {"type": "collaboration", "id": "c4", "status": "pending", "role": "co-owner",
                        "accessible_by": null, "invite_email": "colleague@acme.test"}]})),
            ),
            (
                items_url("20", None),
                fake::json(&json!({"entries": [
                    {"type": "file", "id": "200", "name": "c.txt", "owned_by": owner("2")}]})),
            ),
        ]);
        let ctx = fake::ctx(1000, None);
        let (pages, host) = host.run(|| sluice_sdk::testing::all_pages(20, |c| list(&ctx, c)));
        let files: Vec<&File> = pages.iter().flat_map(|p| &p.items).collect();
        let ids: Vec<&str> = files.iter().map(|f| f.id.as_str()).collect();
        // User 2's root is the same mock root here: only items owned by 2 count, and
        // folder 20 is walked in user 2's tree.
        assert_eq!(ids, ["100@1", "101@1", "200@2"]);
        let a = files[0];
        assert!(a.public && a.shared_externally);
        assert_eq!(a.sharing.links[0].audience, LinkAudience::Anyone);
        assert_eq!(a.labels, ["Confidential"]);
        assert_eq!(a.path.as_deref(), Some("/"));
        assert_eq!(a.content_hash.as_ref().unwrap().value, "ab");
        assert_eq!(a.mime_type.as_deref(), Some("application/pdf"));
        let b = files[1];
        assert_eq!(b.path.as_deref(), Some("/Deals"));
        assert_eq!(b.labels, ["Internal"]);
        assert!(b.shared_externally && !b.public);
        let principals: Vec<(&str, bool, ShareRole)> = (b.sharing.principals.iter())
            .map(|p| (p.id.as_str(), p.external, p.role))
            .collect();
        assert_eq!(
            principals,
            [
                ("guest@partner.test", true, ShareRole::Editor),
                ("g1", false, ShareRole::Viewer),
                ("colleague@acme.test", false, ShareRole::Owner),
            ]
        );
        assert!(!files[2].shared_externally);
        // Every folder listing is sent as the user whose tree it is.
        let as_user: Vec<(Option<&str>, bool)> = (host.requests().iter())
            .filter(|r| r.url.contains("/items"))
            .map(|r| (r.header("as-user"), r.url.contains("/folders/20/")))
            .collect();
        assert!(as_user.iter().all(|(u, _)| u.is_some()));
        assert!(
            as_user
                .iter()
                .filter(|(_, twenty)| *twenty)
                .all(|(u, _)| *u == Some("2"))
        );
        let as_two = (host.requests().iter())
            .filter(|r| r.header("as-user") == Some("2"))
            .count();
        assert_eq!(as_two, 3, "user 2's root (two pages) and folder 20");
    }

    #[test]
    fn configured_domains_skip_the_domains_pass() {
        let host = fake::boxed(vec![(users_url(), fake::json(&json!({"entries": []})))])
            .config("internal_domains", "acme.test, @Acme.example");
        let (pages, host) =
            host.run(|| sluice_sdk::testing::all_pages(5, |c| list(&fake::ctx(10, None), c)));
        assert_eq!(pages.len(), 1);
        assert_eq!(host.requests().len(), 1, "one users page, no domains pass");
        assert_eq!(start_domains(), ["acme.example", "acme.test"]);
    }

    fn start_domains() -> Vec<String> {
        let (walk, _) = fake::boxed(vec![])
            .config("internal_domains", "acme.test, @Acme.example")
            .run(start);
        walk.domains.into_iter().collect()
    }

    #[test]
    fn the_published_items_and_files_parse_into_records() {
        let Some(items) = fake::fixture("folder-items.list.sdk-fixture") else {
            return;
        };
        let (entries, marker) = api::entries_and_marker(items);
        assert_eq!(marker, None);
        let files: Vec<File> = (entries.iter())
            .filter(|e| e["type"] == "file")
            .filter_map(record)
            .collect();
        assert_eq!(files.len(), 5);
        assert_eq!(files[0].name, "Test File.jpg");
        assert_eq!(files[0].mime_type.as_deref(), Some("image/jpeg"));
        let full = fake::fixture("file.get-full.rendered-from-openapi").unwrap();
        let f = record(&full).unwrap();
        // `access` is open, but the enterprise narrows it: `effective_access` company.
        assert!(!f.public);
        assert_eq!(f.sharing.links[0].audience, LinkAudience::Organization);
        assert_eq!(f.size, Some(629_644));
        let info = record(&fake::fixture("file.get.sdk-fixture").unwrap()).unwrap();
        assert_eq!(info.labels, ["Top Secret"]);
        assert!(info.sharing.links.is_empty(), "shared_link null");
        let open = record(&fake::fixture("file.get_shared_link.openapi-example").unwrap()).unwrap();
        assert!(open.public);
        assert_eq!(open.sharing.links[0].role, ShareRole::Editor);
        let with_password =
            record(&fake::fixture("file.add_shared_link-password.sdk-fixture").unwrap()).unwrap();
        assert_eq!(with_password.sharing.links.len(), 1);
        let collabs = fake::fixture("folder-collaborations.list.sdk-fixture").unwrap();
        let domains = BTreeSet::from(["user.com".to_owned()]);
        let principals: Vec<Principal> = (collabs["entries"].as_array().unwrap().iter())
            .filter_map(|c| principal(c, &domains))
            .collect();
        assert_eq!(principals.len(), 2);
        assert!(principals[1].group && !principals[0].external);
        let rendered = fake::fixture("folder-collaborations.list.rendered-from-openapi").unwrap();
        assert!(
            rendered["entries"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| collaborator_id(c).is_some())
        );
        let items = fake::fixture("folder-items.list.rendered-from-openapi").unwrap();
        let files = (items["entries"].as_array().unwrap().iter())
            .filter(|e| e["type"] == "file")
            .filter_map(record)
            .count();
        assert_eq!(files, 1);
    }

    #[test]
    fn reads_content_through_box_s_redirect_with_the_range() {
        let download = "https://dl.boxcloud.test/d/1/abc/download";
        let host = fake::boxed(vec![
            (
                format!("{BASE}/files/100/content"),
                Response::new(302, vec![("location".into(), download.into())], ""),
            ),
            (
                download.into(),
                Response::new(
                    206,
                    vec![("content-range".into(), "bytes 2-5/10".into())],
                    "2345",
                ),
            ),
        ]);
        let (chunk, host) = host.run(|| read(&fake::ctx(10, None), "100@1", 2, 4).unwrap());
        assert_eq!(chunk.data, b"2345");
        assert_eq!((chunk.eof, chunk.size), (false, Some(10)));
        let sent = host.requests();
        assert_eq!(sent[0].header("as-user"), Some("1"));
        assert_eq!(sent[0].header("range"), Some("bytes=2-5"));
        assert_eq!(sent[1].url, download);
        assert_eq!(sent[1].header("range"), Some("bytes=2-5"));

        let host = fake::boxed(vec![(
            format!("{BASE}/files/100/content"),
            Response::new(202, vec![("retry-after".into(), "5".into())], ""),
        )]);
        let (result, _) = host.run(|| read(&fake::ctx(10, None), "100", 0, 4));
        assert_eq!(result, Err(ConnectorError::RateLimited(Some(5))));
        let (result, _) = fake::boxed(vec![]).run(|| read(&fake::ctx(10, None), "../x", 0, 4));
        assert!(matches!(result, Err(ConnectorError::NotFound(_))));
    }
}

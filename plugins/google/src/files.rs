//! Drive files: `list-files` (with sharing, labels and the change feed), `read-file`,
//! and the file actions.
//!
//! # Which files
//!
//! The host signs one JWT per instance, for one subject (`admin_email`), so every
//! request sees Drive as that admin sees it. A listing is
//!
//! ```text
//! GET /drive/v3/files?corpora={drive_corpora}&includeItemsFromAllDrives=true
//!     &supportsAllDrives=true&q=trashed = false&fields=nextPageToken,files(…)
//! ```
//!
//! with `drive_corpora` `domain` by default: the files shared with the admin's domain,
//! the admin's own, and those of shared drives the admin belongs to. Listing every
//! user's My Drive needs one token per user (domain-wide delegation with each user as
//! `sub`), which the 0.3.0 `jwt-bearer` scheme cannot ask for (its subject is one
//! config field); see the guide.
//!
//! # Sharing, as Drive permissions
//!
//! | permission | Sluice |
//! |---|---|
//! | `type: anyone` | link, audience anyone; `public` |
//! | `type: domain`, the organisation's domain | link, audience organisation |
//! | `type: domain`, another domain | link, audience organisation, `domain` set; shared externally |
//! | `type: user` / `group`, not the owner | principal by email; external when outside [`api::internal_domains`] |
//!
//! Roles: `reader` viewer, `commenter` commenter, `writer` and `fileOrganizer` editor,
//! `organizer` and `owner` owner. `files.list` returns `permissions` only for files the
//! admin may share; for a shared file without them, `permissions.list` is read.
//!
//! Labels: with `drive_label_ids` set, the listing asks `includeLabels` for them and a
//! file's `labelInfo.labels[].id` are its labels.
//!
//! # The change feed
//!
//! A listing first reads `GET /drive/v3/changes/startPageToken`, and after the last
//! page of files goes on with `GET /drive/v3/changes?pageToken=…` from that token, so
//! files changed while a long listing ran are read again in their newest state. The
//! files cursor holds the position: `{"start": …, "token": …}` while listing,
//! `{"changes": true, "token": …}` in the feed. A cursor in the feed is also what a
//! host that keeps a files position between scans would pass to read only what
//! changed: the feed's pages list exactly the changed files (removed and trashed ones
//! left out) and end at the page carrying `newStartPageToken`.
//!
//! # Content
//!
//! `GET /drive/v3/files/{id}?alt=media` with `Range` (the SDK's [`files::ranged`]).
//! Google Docs, Sheets, Slides and Drawings have no bytes of their own: they are
//! exported (`GET /drive/v3/files/{id}/export?mimeType=…`) as .docx, .xlsx, .pptx and
//! PDF, which the host's inspector reads. Export takes no `Range` and is limited to
//! 10 MB by Google, so each chunk exports the whole document and is cut to the window.
//! Forms, sites, folders and shortcuts have no content: `unsupported`.

use serde::{Deserialize, Serialize};
use sluice_sdk::prelude::*;

use crate::api::{self, Api, MAX_FILES};

/// The fields of a file the listing and the feed ask for.
pub const FILE_FIELDS: &str = "id,name,mimeType,parents,owners(emailAddress,displayName),\
    permissions(id,type,role,emailAddress,domain,allowFileDiscovery,expirationTime,deleted),\
    shared,webViewLink,md5Checksum,size,modifiedTime,trashed,driveId,labelInfo";

/// The fields of a permission when read on their own.
pub const PERMISSION_FIELDS: &str = "nextPageToken,permissions(id,type,role,emailAddress,domain,allowFileDiscovery,expirationTime,deleted)";

/// Pages of permissions read per file at most.
const PERMISSION_PAGES: usize = 20;

/// Where a files listing is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesCursor {
    /// In the change feed (else listing files).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub changes: bool,
    /// The next page of files, or the feed's page token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The feed's start token, read before the first page of files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
}

/// What a files listing needs to map files.
struct Listing {
    api: Api,
    domains: Vec<String>,
    labels: Option<String>,
}

impl Listing {
    fn new(ctx: &Context) -> Result<Self, ConnectorError> {
        Ok(Self {
            api: Api::new(ctx)?,
            domains: api::internal_domains(),
            labels: config::get("drive_label_ids").filter(|l| !l.trim().is_empty()),
        })
    }

    /// `request` with `includeLabels` when labels are configured.
    fn with_labels(&self, request: http::Request) -> http::Request {
        match &self.labels {
            Some(ids) => request.query("includeLabels", ids),
            None => request,
        }
    }

    /// The file record of `value`, its permissions read when Drive left them out.
    fn file(&self, value: &Value) -> Result<Option<File>, ConnectorError> {
        if value.get("permissions").is_some() || json::bool_at(value, "shared") != Some(true) {
            return Ok(file(value, &self.domains, None));
        }
        let id = json::str_at(value, "id").unwrap_or_default();
        match permissions(&self.api, &id) {
            Ok(permissions) => Ok(file(value, &self.domains, Some(&permissions))),
            Err(ConnectorError::Forbidden(why) | ConnectorError::NotFound(why)) => {
                log::info(format!("file {id}: sharing not readable ({why})"));
                Ok(file(value, &self.domains, None))
            }
            Err(e) => Err(e),
        }
    }
}

/// One page of files, or of the change feed.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<FilePage, ConnectorError> {
    let listing = Listing::new(ctx)?;
    let mut position: FilesCursor = match cursor {
        Some(cursor) => Cursor::decode(cursor)?,
        None => FilesCursor {
            start: Some(start_page_token(&listing.api)?),
            ..FilesCursor::default()
        },
    };
    if position.changes {
        return changes(&listing, position);
    }
    let api = &listing.api;
    let request = api
        .page(
            api.drive("/files"),
            "pageSize",
            api.page_size(MAX_FILES),
            position.token.as_deref(),
        )
        .query("corpora", corpora())
        .query("includeItemsFromAllDrives", "true")
        .query("supportsAllDrives", "true")
        .query("q", "trashed = false")
        .query("fields", format!("nextPageToken,files({FILE_FIELDS})"));
    let (values, token) = api::items_and_token(api.fetch(listing.with_labels(request))?, "files");
    let mut items = Vec::with_capacity(values.len());
    for value in &values {
        items.extend(listing.file(value)?);
    }
    let next = match token {
        Some(token) => Some(FilesCursor {
            token: Some(token),
            ..position
        }),
        None => position.start.take().map(|start| FilesCursor {
            changes: true,
            token: Some(start),
            start: None,
        }),
    };
    Ok(FilePage {
        items,
        next_cursor: next.map(|n| Cursor::encode(&n)),
    })
}

/// The `corpora` files are listed from: config `drive_corpora`, `domain` by default.
pub fn corpora() -> String {
    config::get("drive_corpora")
        .filter(|c| !c.trim().is_empty())
        .unwrap_or_else(|| "domain".into())
}

/// `changes.getStartPageToken`: where the change feed is now.
pub fn start_page_token(api: &Api) -> Result<String, ConnectorError> {
    let request = api
        .get(api.drive("/changes/startPageToken"))
        .query("supportsAllDrives", "true");
    json::str_at(&api.fetch(request)?, "startPageToken")
        .ok_or_else(|| ConnectorError::upstream("changes.getStartPageToken answered no token"))
}

/// One page of the change feed: the files changed, and the next page until the one
/// carrying `newStartPageToken`.
fn changes(listing: &Listing, position: FilesCursor) -> Result<FilePage, ConnectorError> {
    let api = &listing.api;
    let token = position
        .token
        .ok_or_else(|| ConnectorError::other("a change-feed cursor without a page token"))?;
    let request = api
        .get(api.drive("/changes"))
        .query("pageToken", &token)
        .query("pageSize", api.page_size(MAX_FILES))
        .query("includeItemsFromAllDrives", "true")
        .query("supportsAllDrives", "true")
        .query(
            "fields",
            format!("nextPageToken,newStartPageToken,changes(changeType,removed,fileId,time,file({FILE_FIELDS}))"),
        );
    let body = api.fetch(listing.with_labels(request))?;
    let mut items = Vec::new();
    for change in body
        .get("changes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let kind = json::str_at(change, "changeType");
        if kind.as_deref().is_some_and(|k| k != "file")
            || json::bool_at(change, "removed") == Some(true)
        {
            continue;
        }
        let Some(value) = change.get("file") else {
            continue;
        };
        if json::bool_at(value, "trashed") == Some(true) {
            continue;
        }
        items.extend(listing.file(value)?);
    }
    let next = json::str_at(&body, "nextPageToken").filter(|t| !t.is_empty());
    if next.is_none()
        && let Some(start) = json::str_at(&body, "newStartPageToken")
    {
        log::info(format!(
            "Drive changes read to the end; the feed goes on at {start}"
        ));
    }
    Ok(FilePage {
        items,
        next_cursor: next.map(|token| {
            Cursor::encode(&FilesCursor {
                changes: true,
                token: Some(token),
                start: None,
            })
        }),
    })
}

/// Every permission of file `id` (`permissions.list`).
pub fn permissions(api: &Api, id: &str) -> Result<Vec<Value>, ConnectorError> {
    let url = api.drive(&format!(
        "/files/{}/permissions",
        http::encode_component(id)
    ));
    let (all, _) = pagination::collect_all(String::new(), PERMISSION_PAGES, |token| {
        let token = (!token.is_empty()).then_some(token);
        let request = api
            .page(url.clone(), "pageSize", 100, token)
            .query("supportsAllDrives", "true")
            .query("fields", PERMISSION_FIELDS);
        Ok(api::items_and_token(api.fetch(request)?, "permissions"))
    })?;
    Ok(all)
}

/// Drive's permission role as a Sluice role.
pub fn role(role: Option<&str>) -> ShareRole {
    match role {
        Some("owner" | "organizer") => ShareRole::Owner,
        Some("writer" | "fileOrganizer") => ShareRole::Editor,
        Some("commenter") => ShareRole::Commenter,
        _ => ShareRole::Viewer,
    }
}

/// How one permission shares a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The owner's own permission.
    Owner,
    /// `anyone`: public.
    Anyone,
    /// A domain, user or group inside the organisation.
    Inside,
    /// A domain, user or group outside it.
    Outside,
}

/// How `permission` shares its file, given the organisation's `domains`.
pub fn reach(permission: &Value, domains: &[String]) -> Reach {
    if json::str_at(permission, "role").as_deref() == Some("owner") {
        return Reach::Owner;
    }
    let who = match json::str_at(permission, "type").as_deref() {
        Some("anyone") => return Reach::Anyone,
        Some("domain") => json::str_at(permission, "domain"),
        _ => json::str_at(permission, "emailAddress"),
    };
    match who {
        Some(who) if !api::is_internal(&who, domains) => Reach::Outside,
        _ => Reach::Inside,
    }
}

/// The sharing of a file's permissions.
pub fn sharing(permissions: &[Value], domains: &[String]) -> Sharing {
    let mut links = Vec::new();
    let mut principals = Vec::new();
    for p in permissions {
        if json::bool_at(p, "deleted") == Some(true) {
            continue;
        }
        let reached = reach(p, domains);
        if reached == Reach::Owner {
            continue;
        }
        let share_role = role(json::str_at(p, "role").as_deref());
        let expires = json::timestamp_at(p, "expirationTime");
        match json::str_at(p, "type").as_deref() {
            Some("anyone") => links.push(ShareLink {
                audience: LinkAudience::Anyone,
                domain: None,
                role: share_role,
                expires,
            }),
            Some("domain") => links.push(ShareLink {
                audience: LinkAudience::Organization,
                domain: json::str_at(p, "domain").filter(|_| reached == Reach::Outside),
                role: share_role,
                expires,
            }),
            kind => {
                let Some(email) = json::str_at(p, "emailAddress") else {
                    continue;
                };
                principals.push(SharePrincipal {
                    id: email,
                    kind: if kind == Some("group") {
                        PrincipalKind::Group
                    } else {
                        PrincipalKind::User
                    },
                    external: reached == Reach::Outside,
                    role: share_role,
                });
            }
        }
    }
    Sharing { links, principals }
}

/// The file record of a Drive file; `permissions` when read apart from it. None
/// without an id.
pub fn file(value: &Value, domains: &[String], permissions: Option<&[Value]>) -> Option<File> {
    let id = json::str_at(value, "id")?;
    let listed = value
        .get("permissions")
        .and_then(Value::as_array)
        .map(Vec::as_slice);
    let permissions = permissions.or(listed).unwrap_or_default();
    let reaches: Vec<Reach> = permissions
        .iter()
        .filter(|p| json::bool_at(p, "deleted") != Some(true))
        .map(|p| reach(p, domains))
        .collect();
    let labels = value
        .pointer("/labelInfo/labels")
        .and_then(Value::as_array)
        .map(|labels| {
            labels
                .iter()
                .filter_map(|l| json::str_at(l, "id"))
                .collect()
        })
        .unwrap_or_default();
    Some(File {
        path: None,
        owner: json::str_at(value, "/owners/0/emailAddress"),
        mime_type: json::str_at(value, "mimeType"),
        size: json::i64_at(value, "size").and_then(|s| u64::try_from(s).ok()),
        modified: json::timestamp_at(value, "modifiedTime"),
        public: reaches.contains(&Reach::Anyone),
        shared_externally: reaches
            .iter()
            .any(|r| matches!(r, Reach::Anyone | Reach::Outside)),
        sharing: sharing(permissions, domains),
        labels,
        content_hash: json::str_at(value, "md5Checksum").map(|value| ContentHash {
            algorithm: "md5".into(),
            value,
        }),
        ..File::new(
            id,
            json::str_at(value, "name").unwrap_or_default(),
            json::raw(value),
        )
    })
}

/// The format a Google Workspace document is exported in for reading; none for the
/// types without content.
pub fn export_format(mime_type: &str) -> Option<&'static str> {
    Some(
        match mime_type.strip_prefix("application/vnd.google-apps.")? {
            "document" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "spreadsheet" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "presentation" => {
                "application/vnd.openxmlformats-officedocument.presentationml.presentation"
            }
            "drawing" => "application/pdf",
            "script" => "application/vnd.google-apps.script+json",
            _ => return None,
        },
    )
}

/// `read-file`: `length` bytes of file `id` from `offset`.
pub fn read(
    ctx: &Context,
    id: &str,
    offset: u64,
    length: u32,
) -> Result<FileChunk, ConnectorError> {
    let api = Api::new(ctx)?;
    let segment = action::target_segment(id)?;
    let meta = api.fetch(
        api.get(api.drive(&format!("/files/{segment}")))
            .query("supportsAllDrives", "true")
            .query("fields", "id,mimeType,size"),
    )?;
    let mime = json::str_at(&meta, "mimeType").unwrap_or_default();
    if mime.starts_with("application/vnd.google-apps.") {
        let format = export_format(&mime).ok_or_else(|| {
            ConnectorError::unsupported(format!("a {mime} has no content to read"))
        })?;
        let response = http::get(api.drive(&format!("/files/{segment}/export")))
            .query("mimeType", format)
            .header("accept", "*/*")
            .send()?;
        return files::ranged(response, offset, length, None, api::checked);
    }
    let listed = json::i64_at(&meta, "size").and_then(|s| u64::try_from(s).ok());
    if listed.is_some_and(|size| offset >= size) {
        return Ok(files::past_end(listed));
    }
    let response = http::get(api.drive(&format!("/files/{segment}")))
        .query("alt", "media")
        .query("supportsAllDrives", "true")
        .header("accept", "*/*")
        .header("range", files::range(offset, length))
        .send()?;
    files::ranged(response, offset, length, listed, api::checked)
}

/// `DELETE …/files/{file}/permissions/{permission}`.
fn delete_permission(
    api: &Api,
    file: &str,
    permission: &str,
) -> Result<http::Request, ConnectorError> {
    Ok(http::delete(api.drive(&format!(
        "/files/{file}/permissions/{}",
        action::target_segment(permission)?
    )))
    .query("supportsAllDrives", "true"))
}

/// Sends `requests` (or plans them in a dry run), which do `what`; a 404 (the
/// permission went meanwhile) is what was asked for.
fn perform_all(
    requests: Vec<http::Request>,
    what: &str,
    dry_run: bool,
) -> Result<ActionOutcome, ConnectorError> {
    let lines: Vec<String> = requests.iter().map(http::Request::line).collect();
    if dry_run {
        return Ok(ActionOutcome::planned(what, lines));
    }
    for request in requests {
        let response = request.send()?;
        if response.status() != 404 {
            api::checked(response)?;
        }
    }
    Ok(ActionOutcome::done(what, lines))
}

/// Deletes the permissions of the action's file that `pick` chooses; `none` says why
/// nothing needs doing when it picks none.
fn delete_picked(
    api: &Api,
    action: &Action,
    what: &str,
    none: &str,
    pick: impl Fn(&Value) -> bool,
) -> Result<ActionOutcome, ConnectorError> {
    let file = action::target_segment(&action.target)?;
    let ids: Vec<String> = permissions(api, &file)?
        .iter()
        .filter(|p| json::bool_at(p, "deleted") != Some(true) && pick(p))
        .filter_map(|p| json::str_at(p, "id"))
        .collect();
    if ids.is_empty() {
        return Ok(ActionOutcome::already(
            &format!("Drive file {file} {none}"),
            Vec::new(),
        ));
    }
    let requests = ids
        .iter()
        .map(|id| delete_permission(api, &file, id))
        .collect::<Result<Vec<_>, _>>()?;
    perform_all(
        requests,
        &format!(
            "delete {} permission(s) of Drive file {file}: {what}",
            ids.len()
        ),
        action.dry_run,
    )
}

/// `remove-public-link`: deletes the file's `anyone` permissions.
pub fn remove_public_link(api: &Api, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let domains = api::internal_domains();
    delete_picked(
        api,
        action,
        "anyone with the link",
        "has no public link",
        |p| reach(p, &domains) == Reach::Anyone,
    )
}

/// `remove-external-sharing`: deletes every permission reaching outside the
/// organisation: `anyone`, other domains, and users and groups of other domains.
pub fn remove_external_sharing(
    api: &Api,
    action: &Action,
) -> Result<ActionOutcome, ConnectorError> {
    let domains = api::internal_domains();
    delete_picked(
        api,
        action,
        "sharing outside the organisation",
        "is not shared outside the organisation",
        |p| matches!(reach(p, &domains), Reach::Anyone | Reach::Outside),
    )
}

/// `remove-file-collaborator`: deletes the permission of `principal` (an email or
/// domain as in `file.sharing`, or a permission id). The owner cannot be removed.
pub fn remove_collaborator(api: &Api, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let principal = action::param(action, "principal")
        .ok_or_else(|| ConnectorError::other("remove-file-collaborator needs param `principal`"))?
        .to_ascii_lowercase();
    let matches = |p: &Value| {
        ["emailAddress", "domain", "id"]
            .iter()
            .any(|k| json::str_at(p, k).is_some_and(|v| v.to_ascii_lowercase() == principal))
    };
    let file = action::target_segment(&action.target)?;
    if permissions(api, &file)?
        .iter()
        .any(|p| matches(p) && json::str_at(p, "role").as_deref() == Some("owner"))
    {
        return Err(ConnectorError::other(format!(
            "{principal} owns Drive file {file}; transfer ownership before removing them"
        )));
    }
    delete_picked(
        api,
        action,
        &principal,
        &format!("is not shared with {principal}"),
        matches,
    )
}

/// `PATCH /drive/v3/files/{id}` (`files.update`).
fn update(api: &Api, file: &str) -> http::Request {
    http::patch(api.drive(&format!("/files/{file}"))).query("supportsAllDrives", "true")
}

/// The file's `fields`, read before acting.
fn current(api: &Api, file: &str, fields: &str) -> Result<Value, ConnectorError> {
    api.fetch(
        api.get(api.drive(&format!("/files/{file}")))
            .query("supportsAllDrives", "true")
            .query("fields", fields),
    )
}

/// `trash-file`: `files.update` with `trashed: true`; the owner (or an admin) can
/// restore it from the trash for 30 days. One in the trash already is `already`.
pub fn trash(api: &Api, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let file = action::target_segment(&action.target)?;
    Write::new(
        update(api, &file).json_body(&serde_json::json!({"trashed": true})),
        format!("move Drive file {file} to the trash"),
    )
    .perform_unless(action.dry_run, || {
        let now = current(api, &file, "id,trashed")?;
        Ok((json::bool_at(&now, "trashed") == Some(true))
            .then(|| format!("Drive file {file} is in the trash")))
    })
}

/// `quarantine-file`: moves the file into the admin's quarantine folder
/// (`quarantine_folder_id`: `files.update` with `addParents` / `removeParents`) and
/// deletes every permission but the owner's, so only the owner and whoever can open
/// the quarantine folder reach it. A file there with no other permission is `already`.
pub fn quarantine(api: &Api, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let folder = config::get("quarantine_folder_id")
        .filter(|f| !f.trim().is_empty())
        .ok_or_else(|| {
            ConnectorError::invalid_config(
                "quarantine-file needs `quarantine_folder_id`: a Drive folder owned by the admin",
            )
        })?;
    let file = action::target_segment(&action.target)?;
    let now = current(api, &file, "id,parents")?;
    let parents: Vec<String> = json::strings_at(&now, "parents");
    let shared: Vec<String> = permissions(api, &file)?
        .iter()
        .filter(|p| json::str_at(p, "role").as_deref() != Some("owner"))
        .filter_map(|p| json::str_at(p, "id"))
        .collect();
    let moved = parents == [folder.clone()];
    if moved && shared.is_empty() {
        return Ok(ActionOutcome::already(
            &format!("Drive file {file} is in the quarantine folder and shared with no one"),
            Vec::new(),
        ));
    }
    let mut requests = Vec::new();
    if !moved {
        let mut request = update(api, &file).query("addParents", &folder);
        let others: Vec<&String> = parents.iter().filter(|p| **p != folder).collect();
        if !others.is_empty() {
            let list: Vec<&str> = others.iter().map(|p| p.as_str()).collect();
            request = request.query("removeParents", list.join(","));
        }
        requests.push(request.json_body(&serde_json::json!({})));
    }
    for id in &shared {
        requests.push(delete_permission(api, &file, id)?);
    }
    perform_all(
        requests,
        &format!(
            "move Drive file {file} into quarantine folder {folder} and remove its {} permission(s) besides the owner's",
            shared.len()
        ),
        action.dry_run,
    )
}

/// `apply-label`: `POST /drive/v3/files/{id}/modifyLabels` adding label `label` (a
/// Drive label id, without field values; by default the one label of
/// `drive_label_ids` when it names one). A file with the label is `already`.
pub fn apply_label(api: &Api, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let configured: Vec<String> = config::get("drive_label_ids")
        .unwrap_or_default()
        .split([',', ' '])
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let label = match (action::param(action, "label"), configured.as_slice()) {
        (Some(label), _) => label.to_owned(),
        // The one label the instance reads needs no naming.
        (None, [only]) => only.clone(),
        (None, _) => {
            return Err(ConnectorError::other(
                "apply-label needs param `label` (a Drive label id)",
            ));
        }
    };
    let file = action::target_segment(&action.target)?;
    Write::new(
        http::post(api.drive(&format!("/files/{file}/modifyLabels")))
            .json_body(&serde_json::json!({"kind": "drive#modifyLabelsRequest",
                "labelModifications": [{"labelId": label}]})),
        format!("apply Drive label {label} to file {file}"),
    )
    .perform_unless(action.dry_run, || {
        let now = api.fetch(
            api.get(api.drive(&format!("/files/{file}")))
                .query("supportsAllDrives", "true")
                .query("includeLabels", &label)
                .query("fields", "id,labelInfo"),
        )?;
        let has = now
            .pointer("/labelInfo/labels")
            .and_then(Value::as_array)
            .is_some_and(|l| {
                l.iter()
                    .any(|l| json::str_at(l, "id").as_deref() == Some(&label))
            });
        Ok(has.then(|| format!("Drive file {file} has label {label}")))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::action as test_action;

    use super::*;
    use crate::api::fake::{self, DRIVE};

    fn domains() -> Vec<String> {
        vec!["example.com".into()]
    }

    #[test]
    fn the_published_files_map_with_their_sharing() {
        let Some(body) = fake::fixture("drive-files.list-with-permissions") else {
            return;
        };
        let files: Vec<File> = body["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| file(f, &domains(), None))
            .collect();
        assert_eq!(files.len(), 3);
        let pricing = &files[0];
        assert!(pricing.shared_externally && !pricing.public);
        assert_eq!(pricing.owner.as_deref(), Some("alice.admin@example.com"));
        assert_eq!(
            pricing.sharing.principals.len(),
            1,
            "the owner is not listed"
        );
        let vendor = &pricing.sharing.principals[0];
        assert_eq!(vendor.id, "vendor.rep@partner.example.net");
        assert!(vendor.external);
        assert_eq!(vendor.role, ShareRole::Editor);
        assert_eq!(pricing.sharing.links.len(), 1);
        assert_eq!(
            pricing.sharing.links[0].audience,
            LinkAudience::Organization
        );
        assert_eq!(pricing.sharing.links[0].domain, None, "our own domain");
        let agenda = &files[1];
        assert!(agenda.public && agenda.shared_externally);
        assert_eq!(agenda.sharing.links[0].audience, LinkAudience::Anyone);
        let pdf = &files[2];
        assert!(!pdf.public && !pdf.shared_externally);
        assert_eq!(pdf.size, Some(482_113));
        assert_eq!(
            pdf.content_hash,
            Some(ContentHash {
                algorithm: "md5".into(),
                value: "5d41402abc4b2a76b9719d911017c592".into()
            })
        );
        assert_eq!(pdf.modified, time::parse("2024-02-02T17:45:09.000Z"));
        assert_eq!(
            serde_json::from_str::<Value>(&pdf.raw).unwrap(),
            body["files"][2]
        );
    }

    #[test]
    fn another_domain_is_an_external_link_and_labels_are_read() {
        let value = json!({"id": "f", "name": "n", "labelInfo": {"labels": [{"id": "L1"}]},
            "permissions": [{"id": "p", "type": "domain", "domain": "partner.example.net",
                "role": "reader"}]});
        let f = file(&value, &domains(), None).unwrap();
        assert!(f.shared_externally && !f.public);
        assert_eq!(
            f.sharing.links[0].domain.as_deref(),
            Some("partner.example.net")
        );
        assert_eq!(f.labels, ["L1"]);
    }

    fn files_url(token: Option<&str>) -> String {
        let fields = "nextPageToken%2Cfiles%28id%2Cname%2CmimeType%2Cparents%2Cowners%28emailAddress%2CdisplayName%29%2Cpermissions%28id%2Ctype%2Crole%2CemailAddress%2Cdomain%2CallowFileDiscovery%2CexpirationTime%2Cdeleted%29%2Cshared%2CwebViewLink%2Cmd5Checksum%2Csize%2CmodifiedTime%2Ctrashed%2CdriveId%2ClabelInfo%29";
        let token = token.map(|t| format!("&pageToken={t}")).unwrap_or_default();
        format!(
            "{DRIVE}/drive/v3/files?pageSize=2{token}&corpora=domain&includeItemsFromAllDrives=true&supportsAllDrives=true&q=trashed%20%3D%20false&fields={fields}"
        )
    }

    fn changes_url(token: &str) -> String {
        let fields = "nextPageToken%2CnewStartPageToken%2Cchanges%28changeType%2Cremoved%2CfileId%2Ctime%2Cfile%28id%2Cname%2CmimeType%2Cparents%2Cowners%28emailAddress%2CdisplayName%29%2Cpermissions%28id%2Ctype%2Crole%2CemailAddress%2Cdomain%2CallowFileDiscovery%2CexpirationTime%2Cdeleted%29%2Cshared%2CwebViewLink%2Cmd5Checksum%2Csize%2CmodifiedTime%2Ctrashed%2CdriveId%2ClabelInfo%29%29";
        format!(
            "{DRIVE}/drive/v3/changes?pageToken={token}&pageSize=2&includeItemsFromAllDrives=true&supportsAllDrives=true&fields={fields}"
        )
    }

    #[test]
    fn a_listing_pages_files_then_reads_the_feed_from_where_it_started() {
        let (Some(start), Some(page), Some(last)) = (
            fake::fixture("drive-changes.getStartPageToken"),
            fake::fixture("drive-changes.list-page"),
            fake::fixture("drive-changes.list-last-page"),
        ) else {
            return;
        };
        let host = fake::google(vec![
            (
                format!("{DRIVE}/drive/v3/changes/startPageToken?supportsAllDrives=true"),
                fake::json(&start),
            ),
            (
                files_url(None),
                fake::json(
                    &json!({"files": [{"id": "a", "name": "a"}, {"id": "b", "name": "b"}],
                    "nextPageToken": "f2"}),
                ),
            ),
            (
                files_url(Some("f2")),
                fake::json(&json!({"files": [{"id": "c", "name": "c"}]})),
            ),
            (changes_url("1148702"), fake::json(&page)),
            (changes_url("1148790"), fake::json(&last)),
        ]);
        let ctx = fake::ctx(2, None);
        let (pages, host) = host.run(|| sluice_sdk::testing::all_pages(10, |c| list(&ctx, c)));
        assert_eq!(host.requests().len(), 5);
        let ids: Vec<Vec<&str>> = pages
            .iter()
            .map(|p| p.items.iter().map(|f| f.id.as_str()).collect())
            .collect();
        // The feed's middle page has one changed file and one removal; its last page
        // a shared drive's change: only the file is listed.
        assert_eq!(
            ids,
            [
                vec!["a", "b"],
                vec!["c"],
                vec!["1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdE"],
                vec![]
            ]
        );
        assert_eq!(
            pages[0].next_cursor.as_deref(),
            Some(r#"{"token":"f2","start":"1148702"}"#)
        );
        assert_eq!(
            pages[1].next_cursor.as_deref(),
            Some(r#"{"changes":true,"token":"1148702"}"#)
        );
        assert!(pages[2].items[0].shared_externally);
    }

    #[test]
    fn a_feed_cursor_reads_only_what_changed() {
        let Some(last) = fake::fixture("drive-changes.list-last-page") else {
            return;
        };
        let mut changed = last.clone();
        changed["changes"] = json!([{"changeType": "file", "removed": false, "fileId": "n",
            "file": {"id": "n", "name": "new.txt"}},
            {"changeType": "file", "fileId": "t", "file": {"id": "t", "name": "t", "trashed": true}}]);
        let host = fake::google(vec![(changes_url("77"), fake::json(&changed))]);
        let (page, host) = host.run(|| {
            list(
                &fake::ctx(2, None),
                Some(r#"{"changes":true,"token":"77"}"#),
            )
        });
        let page = page.unwrap();
        assert_eq!(host.requests().len(), 1, "no listing, no start token");
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].id, "n");
        assert_eq!(page.next_cursor, None);
    }

    fn meta(mime: &str, size: Option<u64>) -> Response {
        let mut body = json!({"id": "f1", "mimeType": mime});
        if let Some(size) = size {
            body["size"] = json!(size.to_string());
        }
        fake::json(&body)
    }

    const META: &str = "https://drive.google.test/drive/v3/files/f1?supportsAllDrives=true&fields=id%2CmimeType%2Csize";

    #[test]
    fn binary_content_is_read_by_range_and_documents_are_exported() {
        let media = format!("{DRIVE}/drive/v3/files/f1?alt=media&supportsAllDrives=true");
        let host = fake::google(vec![
            (META.into(), meta("application/pdf", Some(10))),
            (
                media.clone(),
                Response::new(
                    206,
                    vec![("content-range".into(), "bytes 4-7/10".into())],
                    b"4567".to_vec(),
                ),
            ),
        ]);
        let (chunk, host) = host.run(|| read(&fake::ctx(2, None), "f1", 4, 4));
        let chunk = chunk.unwrap();
        assert_eq!((chunk.data.as_slice(), chunk.eof), (&b"4567"[..], false));
        assert_eq!(host.requests()[1].header("range"), Some("bytes=4-7"));

        let export = format!(
            "{DRIVE}/drive/v3/files/f1/export?mimeType=application%2Fvnd.openxmlformats-officedocument.wordprocessingml.document"
        );
        let host = fake::google(vec![
            (
                META.into(),
                meta("application/vnd.google-apps.document", None),
            ),
            (export, Response::new(200, vec![], b"0123456789".to_vec())),
        ]);
        let (chunk, _) = host.run(|| read(&fake::ctx(2, None), "f1", 8, 4));
        let chunk = chunk.unwrap();
        assert_eq!((chunk.data.as_slice(), chunk.eof), (&b"89"[..], true));

        let host = fake::google(vec![(
            META.into(),
            meta("application/vnd.google-apps.form", None),
        )]);
        let (result, _) = host.run(|| read(&fake::ctx(2, None), "f1", 0, 4));
        assert!(matches!(result, Err(ConnectorError::Unsupported(_))));
    }

    fn permissions_url() -> String {
        format!(
            "{DRIVE}/drive/v3/files/f1/permissions?pageSize=100&supportsAllDrives=true&fields=nextPageToken%2Cpermissions%28id%2Ctype%2Crole%2CemailAddress%2Cdomain%2CallowFileDiscovery%2CexpirationTime%2Cdeleted%29"
        )
    }

    #[test]
    fn external_sharing_is_every_permission_outside_and_the_owner_stays() {
        let Some(list) = fake::fixture("drive-permissions.list") else {
            return;
        };
        let host = fake::google(vec![(permissions_url(), fake::json(&list))]);
        let api_ctx = fake::ctx(2, None);
        let (outcome, _) = host.run(|| {
            let api = Api::new(&api_ctx).unwrap();
            remove_external_sharing(
                &api,
                &test_action(ActionKind::RemoveExternalSharing, "f1", true),
            )
        });
        let outcome = outcome.unwrap();
        assert_eq!(outcome.status, ActionStatus::Planned);
        assert!(outcome.requests.iter().all(|r| r.starts_with("DELETE ")));
        assert!(!outcome.requests.is_empty());
        let internal: Vec<String> = list["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| !matches!(reach(p, &domains()), Reach::Anyone | Reach::Outside))
            .filter_map(|p| json::str_at(p, "id"))
            .collect();
        for id in internal {
            assert!(
                outcome
                    .requests
                    .iter()
                    .all(|r| !r.contains(&format!("/permissions/{id}?"))),
                "{id} is inside the organisation"
            );
        }
    }

    #[test]
    fn trash_reads_first_and_a_trashed_file_is_already() {
        let current =
            format!("{DRIVE}/drive/v3/files/f1?supportsAllDrives=true&fields=id%2Ctrashed");
        let host = fake::google(vec![(
            current,
            fake::json(&json!({"id": "f1", "trashed": true})),
        )]);
        let (outcome, host) = host.run(|| {
            let api = Api::new(&fake::ctx(2, None)).unwrap();
            trash(&api, &test_action(ActionKind::TrashFile, "f1", false))
        });
        assert_eq!(outcome.unwrap().status, ActionStatus::Already);
        assert_eq!(host.requests().len(), 1, "no write");
    }
}

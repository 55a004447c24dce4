//! `act`: member and file governance. Every write is an RPC `POST`; a file action
//! acts as the member whose file it is (`Dropbox-API-Select-User`, the first part of
//! the file's id).
//!
//! | action | requests | scope |
//! |---|---|---|
//! | `suspend-user` | `team/members/suspend` `{"user": {".tag": "team_member_id", …}, "wipe_data": false}` | `members.write` |
//! | `unsuspend-user` | `team/members/unsuspend` | `members.write` |
//! | `trash-file` | `files/delete_v2` (restorable from deleted files for the team's version-history period) | `files.content.write` |
//! | `quarantine-file` | `files/copy_reference/get` (member), `files/copy_reference/save` into the quarantine folder (the quarantine admin), `files/delete_v2` (member) | `files.content.read`, `files.content.write` |
//! | `remove-public-link` | `sharing/list_shared_links` `{"path", "direct_only": true}`, then `sharing/revoke_shared_link` per link | `sharing.read`, `sharing.write` |
//! | `remove-file-collaborator` | `sharing/remove_file_member_2` (param `principal`: email, or `dbid:` account id) | `sharing.write` |
//!
//! Route errors (409) map as Dropbox documents them: `team/members/suspend`'s
//! `user_not_found` and `user_not_in_team` are `not-found`, `suspend_inactive_user`
//! (suspended already, or only invited) is `already`, `suspend_last_admin` and
//! `team_license_limit` are refusals with Dropbox's reason; `unsuspend`'s
//! `unsuspend_non_suspended_member` is `already`; a file whose `path_lookup` is
//! `not_found` is gone (`already` for trash and quarantine); a collaborator with
//! `no_explicit_access` and no access at all is `already`, one whose access comes
//! from the shared folder is refused, naming the folder.
//!
//! Dry runs read nothing and list the writes.

use serde_json::json;
use sluice_sdk::http::Request;
use sluice_sdk::prelude::*;

use crate::api::{self, Api, RouteError};
use crate::files::{self, share_link};

/// The default quarantine folder, in the quarantine admin's Dropbox.
pub const QUARANTINE_FOLDER: &str = "/Sluice quarantine";

/// Performs or plans `action`.
pub fn act(ctx: &Context, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let api = Api::new(ctx)?;
    match action.kind {
        ActionKind::SuspendUser => suspend(&api, action, true),
        ActionKind::UnsuspendUser => suspend(&api, action, false),
        ActionKind::TrashFile => trash(&api, action),
        ActionKind::QuarantineFile => quarantine(&api, action),
        ActionKind::RemovePublicLink => remove_links(&api, action),
        ActionKind::RemoveFileCollaborator => remove_collaborator(&api, action),
        _ => Err(action::unsupported("Dropbox", action)),
    }
}

/// How a route error ends an action: `already` with the reason, or an error.
type OnRouteError<'a> = &'a dyn Fn(&RouteError) -> Result<ActionOutcome, ConnectorError>;

/// Plans (dry run) or sends the write `request`, which does `what`; a 409 goes to
/// `on_error`. The answer's JSON is returned with a `done` outcome.
fn write(
    request: Request,
    what: &str,
    dry_run: bool,
    on_error: OnRouteError<'_>,
) -> Result<(ActionOutcome, Option<Value>), ConnectorError> {
    let requests = vec![request.line()];
    if dry_run {
        return Ok((ActionOutcome::planned(what, requests), None));
    }
    let response = request.send()?;
    if response.status() == 409 {
        return Ok((on_error(&RouteError::of(&response))?, None));
    }
    let body = api::check_status(response)?
        .json_value()
        .unwrap_or(Value::Null);
    Ok((ActionOutcome::done(what, requests), Some(body)))
}

/// `suspend-user` (`suspend`) or `unsuspend-user`.
fn suspend(api: &Api, action: &Action, suspend: bool) -> Result<ActionOutcome, ConnectorError> {
    let member = action.target.trim();
    let selector = json!({".tag": "team_member_id", "team_member_id": member});
    let (route, args, what) = if suspend {
        (
            "team/members/suspend",
            json!({"user": selector, "wipe_data": false}),
            format!("suspend Dropbox team member {member}"),
        )
    } else {
        (
            "team/members/unsuspend",
            json!({"user": selector}),
            format!("unsuspend Dropbox team member {member}"),
        )
    };
    let on_error = |e: &RouteError| match e.tag.as_str() {
        "suspend_inactive_user" => Ok(ActionOutcome::already(
            &format!(
                "{member} is not active (suspended already, or only invited): {}",
                e.summary
            ),
            Vec::new(),
        )),
        "unsuspend_non_suspended_member" => Ok(ActionOutcome::already(
            &format!("{member} is not suspended: {}", e.summary),
            Vec::new(),
        )),
        "user_not_found" | "user_not_in_team" => Err(ConnectorError::not_found(format!(
            "no Dropbox team member `{member}`: {}",
            e.summary
        ))),
        "suspend_last_admin" => Err(ConnectorError::other(format!(
            "Dropbox refuses to suspend the team's last admin ({})",
            e.summary
        ))),
        "team_license_limit" => Err(ConnectorError::other(format!(
            "the team has no license left for {member} ({})",
            e.summary
        ))),
        _ => Err(e.clone().into_error(&what)),
    };
    Ok(write(api.rpc(route, &args), &what, action.dry_run, &on_error)?.0)
}

/// Whether a route error says the file is not there (any more).
fn gone(e: &RouteError) -> bool {
    e.detail.as_deref() == Some("not_found")
}

/// `trash-file`: `files/delete_v2` as the member.
fn trash(api: &Api, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let (member, file) = files::split_id(&action.target)?;
    let what = format!("delete Dropbox file {file} of {member} (restorable from deleted files)");
    let request = api::as_member(api.rpc("files/delete_v2", &json!({"path": file})), member);
    let on_error = |e: &RouteError| {
        if gone(e) {
            Ok(ActionOutcome::already(
                &format!("{file} is gone: {}", e.summary),
                Vec::new(),
            ))
        } else {
            Err(e.clone().into_error(&what))
        }
    };
    Ok(write(request, &what, action.dry_run, &on_error)?.0)
}

/// `quarantine-file`: a copy into the quarantine admin's folder, then the member's
/// file deleted. Needs config `quarantine_member`.
fn quarantine(api: &Api, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let (member, file) = files::split_id(&action.target)?;
    let admin = config::get("quarantine_member").ok_or_else(|| {
        ConnectorError::invalid_config(
            "quarantine-file needs `quarantine_member`: the team_member_id of the admin whose \
             Dropbox holds the quarantine folder",
        )
    })?;
    let folder = config::get("quarantine_folder").unwrap_or_else(|| QUARANTINE_FOLDER.into());
    let folder = folder.trim_end_matches('/');
    let get = api::as_member(
        api.rpc("files/copy_reference/get", &json!({"path": file})),
        member,
    );
    let delete = api::as_member(api.rpc("files/delete_v2", &json!({"path": file})), member);
    let save_line = format!(
        "{} as {admin}",
        api.rpc("files/copy_reference/save", &Value::Null).line()
    );
    let what = format!("move Dropbox file {file} of {member} into {folder} of {admin}");
    if action.dry_run {
        let plan = vec![get.line(), save_line, delete.line()];
        return Ok(ActionOutcome::planned(&what, plan));
    }
    let got = match api.call_or_route_error(get)? {
        Ok(got) => got,
        Err(e) if gone(&e) => {
            return Ok(ActionOutcome::already(
                &format!("{file} is gone: {}", e.summary),
                Vec::new(),
            ));
        }
        Err(e) => return Err(e.into_error(&what)),
    };
    let reference = json::str_at(&got, "copy_reference").ok_or_else(|| {
        ConnectorError::upstream("files/copy_reference/get answered no copy_reference")
    })?;
    let name = json::str_at(&got, "/metadata/name").unwrap_or_else(|| file.to_owned());
    // The file id keeps two quarantined files of one name apart, and makes a retry
    // find its own copy.
    let path = format!("{folder}/{} {name}", file.trim_start_matches("id:"));
    let save = api::as_member(
        api.rpc(
            "files/copy_reference/save",
            &json!({"copy_reference": reference, "path": path}),
        ),
        &admin,
    );
    match api.call_or_route_error(save)? {
        Ok(_) => {}
        // A retry after the copy but before the delete: the copy is there.
        Err(e) if e.is("path", Some("conflict")) => {}
        Err(e) => return Err(e.into_error(&format!("copy {file} to {path}"))),
    }
    let requests = vec![
        format!("POST {}", api.url("files/copy_reference/get")),
        save_line,
        delete.line(),
    ];
    match api.call_or_route_error(delete)? {
        Ok(_) => {}
        Err(e) if gone(&e) => {}
        Err(e) => return Err(e.into_error(&format!("delete {file} after copying it to {path}"))),
    }
    Ok(ActionOutcome::done(
        &format!("{what} (as {path})"),
        requests,
    ))
}

/// `remove-public-link`: every link on the file that reaches anyone or the team.
fn remove_links(api: &Api, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let (member, file) = files::split_id(&action.target)?;
    let list = api::as_member(
        api.rpc(
            "sharing/list_shared_links",
            &json!({"path": file, "direct_only": true}),
        ),
        member,
    );
    let revoke_line = format!("POST {}", api.url("sharing/revoke_shared_link"));
    let what = format!("revoke the shared links of Dropbox file {file} of {member}");
    if action.dry_run {
        return Ok(ActionOutcome::planned(
            &what,
            vec![list.line(), revoke_line],
        ));
    }
    let links = match api.call_or_route_error(list)? {
        Ok(body) => api::items_and_cursor(body, "links").0,
        Err(e) if gone(&e) => {
            return Ok(ActionOutcome::already(
                &format!("{file} is gone: {}", e.summary),
                Vec::new(),
            ));
        }
        Err(e) => return Err(e.into_error(&what)),
    };
    let urls: Vec<String> = links
        .iter()
        .filter(|l| share_link(l).is_some())
        .filter_map(|l| json::str_at(l, "url"))
        .collect();
    if urls.is_empty() {
        return Ok(ActionOutcome::already(
            &format!("{file} has no link that reaches anyone or the team"),
            Vec::new(),
        ));
    }
    let mut requests = Vec::new();
    for url in &urls {
        let revoke = api::as_member(
            api.rpc("sharing/revoke_shared_link", &json!({"url": url})),
            member,
        );
        requests.push(revoke.line());
        match api.call_or_route_error(revoke)? {
            Ok(_) => {}
            Err(e) if e.tag == "shared_link_not_found" => {}
            Err(e) => return Err(e.into_error(&format!("revoke {url}"))),
        }
    }
    Ok(ActionOutcome::done(&what, requests))
}

/// `remove-file-collaborator`: `sharing/remove_file_member_2`.
fn remove_collaborator(api: &Api, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let (member, file) = files::split_id(&action.target)?;
    let principal = match action::param(action, "principal") {
        Some(principal) => principal,
        // A dry run names the request without one (`sluice test-connector` plans every
        // action on the first file).
        None if action.dry_run => "the `principal` given",
        None => {
            return Err(ConnectorError::other(
                "remove-file-collaborator needs `principal`: the collaborator's email or \
                 dbid: account id, as in the file's sharing",
            ));
        }
    };
    let selector = if principal.contains('@') {
        json!({".tag": "email", "email": principal})
    } else {
        json!({".tag": "dropbox_id", "dropbox_id": principal})
    };
    let request = api::as_member(
        api.rpc(
            "sharing/remove_file_member_2",
            &json!({"file": file, "member": selector}),
        ),
        member,
    );
    let what = format!("remove {principal} from Dropbox file {file} of {member}");
    let on_error = |e: &RouteError| {
        if e.tag == "no_explicit_access" {
            return no_explicit_access(e, principal, file);
        }
        if gone(e) {
            return Err(ConnectorError::not_found(format!(
                "{file} is gone: {}",
                e.summary
            )));
        }
        Err(e.clone().into_error(&what))
    };
    let (outcome, body) = write(request, &what, action.dry_run, &on_error)?;
    // The call answers 200 with `member_error` when the member could not be removed.
    if let Some(body) = body
        && api::tag(&body, "").as_deref() == Some("member_error")
    {
        let why = api::tag(&body, "/member_error").unwrap_or_default();
        if why == "invalid_member" {
            return Ok(ActionOutcome::already(
                &format!("{principal} is not a member of {file}"),
                outcome.requests,
            ));
        }
        return Err(ConnectorError::other(format!(
            "Dropbox did not remove {principal} from {file}: {why}"
        )));
    }
    Ok(outcome)
}

/// `no_explicit_access`: without access from a folder the collaborator is gone
/// already; with it, only the shared folder's owner can take it away.
fn no_explicit_access(
    e: &RouteError,
    principal: &str,
    file: &str,
) -> Result<ActionOutcome, ConnectorError> {
    if json::at(&e.error, "access_level").is_none() {
        return Ok(ActionOutcome::already(
            &format!("{principal} has no access to {file}"),
            Vec::new(),
        ));
    }
    Err(ConnectorError::other(format!(
        "{principal} reaches {file} through its shared folder ({}); remove them from the \
         folder (sharing/remove_folder_member) instead",
        e.summary
    )))
}

#[cfg(test)]
mod tests {
    use sluice_sdk::testing::action;

    use super::*;
    use crate::api::fake;

    fn run(
        host: sluice_sdk::testing::FakeHost,
        a: Action,
    ) -> (
        Result<ActionOutcome, ConnectorError>,
        sluice_sdk::testing::FakeHost,
    ) {
        host.run(|| act(&fake::ctx(10, None), &a))
    }

    #[test]
    fn suspend_maps_every_documented_error() {
        let values = fake::fixture("team-members-suspend-error-values");
        let error_of = move |tag: &str| match &values {
            Some(v) => v[tag].clone(),
            None => json!({".tag": tag}),
        };
        let cases = [
            ("user_not_found", "not-found"),
            ("user_not_in_team", "not-found"),
            ("suspend_inactive_user", "already"),
            ("suspend_last_admin", "other"),
            ("team_license_limit", "other"),
            ("other", "other"),
        ];
        for (tag, expected) in cases {
            let error = error_of(tag);
            let host = fake::dropbox(move |r| {
                assert_eq!(fake::route(r), "team/members/suspend");
                assert_eq!(fake::body(r)["user"]["team_member_id"], json!("dbmid:a"));
                assert_eq!(fake::body(r)["wipe_data"], json!(false));
                fake::route_error(&format!("{tag}/.."), &error)
            });
            let (result, _) = run(host, action(ActionKind::SuspendUser, "dbmid:a", false));
            let got = match result {
                Ok(o) if o.status == ActionStatus::Already => "already",
                Err(ConnectorError::NotFound(_)) => "not-found",
                Err(ConnectorError::Other(_)) => "other",
                other => panic!("{tag}: {other:?}"),
            };
            assert_eq!(got, expected, "{tag}");
        }
        let (result, host) = run(
            fake::dropbox(|_| Response::new(200, vec![], "null")),
            action(ActionKind::SuspendUser, "dbmid:a", false),
        );
        assert_eq!(result.unwrap().status, ActionStatus::Done);
        assert_eq!(host.requests().len(), 1);
        let (result, host) = run(
            fake::dropbox(|_| unreachable!()),
            action(ActionKind::UnsuspendUser, "dbmid:a", true),
        );
        assert_eq!(
            result.unwrap().requests,
            [format!("POST {}/team/members/unsuspend", fake::API)]
        );
        assert!(host.requests().is_empty());
    }

    #[test]
    fn trash_deletes_as_the_member_and_a_gone_file_is_already() {
        let (result, host) = run(
            fake::dropbox(|r| {
                assert_eq!(fake::body(r)["path"], json!("id:1"));
                assert_eq!(r.header("dropbox-api-select-user"), Some("dbmid:a"));
                fake::json(&json!({"metadata": {".tag": "file", "id": "id:1"}}))
            }),
            action(ActionKind::TrashFile, "dbmid:a/id:1", false),
        );
        assert_eq!(result.unwrap().status, ActionStatus::Done);
        assert_eq!(
            host.requests()[0].url,
            format!("{}/files/delete_v2", fake::API)
        );
        let (result, _) = run(
            fake::dropbox(|_| {
                fake::route_error(
                    "path_lookup/not_found/..",
                    &json!({".tag": "path_lookup",
                    "path_lookup": {".tag": "not_found"}}),
                )
            }),
            action(ActionKind::TrashFile, "dbmid:a/id:1", false),
        );
        assert_eq!(result.unwrap().status, ActionStatus::Already);
    }

    #[test]
    fn quarantine_copies_to_the_admin_then_deletes() {
        let host = fake::dropbox(|r| match fake::route(r) {
            "files/copy_reference/get" => {
                assert_eq!(r.header("dropbox-api-select-user"), Some("dbmid:a"));
                fake::json(&json!({"metadata": {".tag": "file", "name": "plan.pdf"},
                    "copy_reference": "ref-1", "expires": "2024-02-01T00:00:00Z"}))
            }
            "files/copy_reference/save" => {
                assert_eq!(r.header("dropbox-api-select-user"), Some("dbmid:root"));
                assert_eq!(fake::body(r)["path"], json!("/Hold/1 plan.pdf"));
                fake::json(&json!({"metadata": {".tag": "file", "name": "1 plan.pdf"}}))
            }
            "files/delete_v2" => fake::json(&json!({"metadata": {".tag": "file"}})),
            other => panic!("{other}"),
        })
        .config("quarantine_member", "dbmid:root")
        .config("quarantine_folder", "/Hold/");
        let (result, host) = run(
            host,
            action(ActionKind::QuarantineFile, "dbmid:a/id:1", false),
        );
        let outcome = result.unwrap();
        assert_eq!(outcome.status, ActionStatus::Done, "{}", outcome.message);
        assert_eq!(outcome.requests.len(), 3);
        assert_eq!(host.requests().len(), 3);
        let (result, _) = run(
            fake::dropbox(|_| unreachable!()),
            action(ActionKind::QuarantineFile, "dbmid:a/id:1", false),
        );
        assert!(matches!(result, Err(ConnectorError::InvalidConfig(_))));
    }

    #[test]
    fn public_links_are_revoked_and_none_left_is_already() {
        let host = fake::dropbox(|r| match fake::route(r) {
            "sharing/list_shared_links" => {
                assert_eq!(fake::body(r)["direct_only"], json!(true));
                fake::json(&json!({"links": [
                    {".tag": "file", "url": "https://db.test/s/1", "id": "id:1",
                        "link_permissions": {"resolved_visibility": {".tag": "public"}}},
                    {".tag": "file", "url": "https://db.test/s/2", "id": "id:1",
                        "link_permissions": {"resolved_visibility": {".tag": "no_one"}}},
                ], "has_more": false}))
            }
            "sharing/revoke_shared_link" => {
                assert_eq!(fake::body(r)["url"], json!("https://db.test/s/1"));
                Response::new(200, vec![], "null")
            }
            other => panic!("{other}"),
        });
        let (result, host) = run(
            host,
            action(ActionKind::RemovePublicLink, "dbmid:a/id:1", false),
        );
        assert_eq!(result.unwrap().status, ActionStatus::Done);
        assert_eq!(host.requests().len(), 2);
        let host = fake::dropbox(|_| fake::json(&json!({"links": [], "has_more": false})));
        let (result, _) = run(
            host,
            action(ActionKind::RemovePublicLink, "dbmid:a/id:1", false),
        );
        assert_eq!(result.unwrap().status, ActionStatus::Already);
    }

    #[test]
    fn collaborators_are_removed_by_email_and_inherited_access_is_refused() {
        let remove = |principal: &str| {
            let mut a = action(ActionKind::RemoveFileCollaborator, "dbmid:a/id:1", false);
            a.params = vec![("principal".into(), principal.into())];
            a
        };
        let host = fake::dropbox(|r| {
            assert_eq!(
                fake::body(r)["member"],
                json!({".tag": "email", "email": "g@y.test"})
            );
            fake::json(&json!({".tag": "success", "success": {}}))
        });
        assert_eq!(
            run(host, remove("g@y.test")).0.unwrap().status,
            ActionStatus::Done
        );
        let host = fake::dropbox(|_| {
            fake::route_error(
                "no_explicit_access/..",
                &json!({".tag": "no_explicit_access"}),
            )
        });
        assert_eq!(
            run(host, remove("g@y.test")).0.unwrap().status,
            ActionStatus::Already
        );
        let host = fake::dropbox(|_| {
            fake::route_error(
                "no_explicit_access/..",
                &json!({".tag": "no_explicit_access",
                "access_level": {".tag": "viewer"}}),
            )
        });
        assert!(
            matches!(run(host, remove("dbid:g")).0, Err(ConnectorError::Other(m)) if m.contains("shared folder"))
        );
        let (result, _) = run(
            fake::dropbox(|_| unreachable!()),
            action(ActionKind::RemoveFileCollaborator, "dbmid:a/id:1", false),
        );
        assert!(result.is_err(), "no principal");
        let (result, host) = run(
            fake::dropbox(|_| unreachable!()),
            action(ActionKind::RemoveFileCollaborator, "dbmid:a/id:1", true),
        );
        let planned = result.unwrap();
        assert_eq!(planned.status, ActionStatus::Planned);
        assert_eq!(
            planned.requests,
            [format!("POST {}/sharing/remove_file_member_2", fake::API)]
        );
        assert!(host.requests().is_empty());
    }
}

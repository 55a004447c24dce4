//! `act`: user and file governance.
//!
//! | action | request |
//! |---|---|
//! | `suspend-user` / `unsuspend-user` | `PUT /2.0/users/{id}` with `{"status": "inactive"}` / `{"status": "active"}` |
//! | `remove-public-link` | `PUT /2.0/files/{id}?fields=shared_link` with `{"shared_link": null}` |
//! | `remove-file-collaborator` (param `principal`) | `DELETE /2.0/collaborations/{id}`: the file's collaboration, or the nearest folder's above it |
//! | `trash-file` | `DELETE /2.0/files/{id}` (restorable from the owner's trash) |
//! | `quarantine-file` | `PUT /2.0/files/{id}` with `{"parent": {"id": <quarantine_folder_id>}, "shared_link": null}` |
//! | `apply-label` (param `label`) | `POST /2.0/files/{id}/metadata/enterprise/securityClassification-6VMVochwUWo`, or `PUT` (JSON Patch `replace`) when classified already |
//!
//! File actions act as the file's owner (`As-User`, the owner id in the record id
//! `{file id}@{owner id}`). Each first reads the target: a user already in the status,
//! a file without a shared link, already in the quarantine folder or with the label,
//! or a principal with no collaboration is `already` and nothing is written; an
//! unknown user or file is `not-found`. A removal answered 404 is `already`. A dry
//! run reads, plans and writes nothing.
//!
//! Quarantine moves the file into a folder an admin owns: in Box the file then
//! belongs to that folder's owner (its record id changes accordingly), its former
//! folder's collaborators lose it, and its shared link is removed in the same write.
//! Removing a collaborator who reaches the file through a folder removes them from
//! that whole folder; the outcome says which.

use serde_json::json;
use sluice_sdk::prelude::*;

use crate::api::{self, Api};
use crate::files::{self, CLASSIFICATION_KEY, CLASSIFICATION_TEMPLATE};

/// Performs or plans `action`.
pub fn act(ctx: &Context, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let api = Api::new(ctx)?;
    match action.kind {
        ActionKind::SuspendUser => user_status(&api, action, "inactive"),
        ActionKind::UnsuspendUser => user_status(&api, action, "active"),
        ActionKind::RemovePublicLink => remove_link(&api, action),
        ActionKind::RemoveFileCollaborator => remove_collaborator(&api, action),
        ActionKind::TrashFile => trash(&api, action),
        ActionKind::QuarantineFile => quarantine(&api, action),
        ActionKind::ApplyLabel => apply_label(&api, action),
        _ => Err(action::unsupported("Box", action)),
    }
}

fn user_status(api: &Api, action: &Action, status: &str) -> Result<ActionOutcome, ConnectorError> {
    let target = action.target.trim();
    let segment = action::target_segment(target)?;
    let request = http::put(api.url(&format!("/users/{segment}")))
        .header("accept", "application/json")
        .json_body(&json!({"status": status}));
    let verb = if status == "inactive" {
        "deactivate"
    } else {
        "reactivate"
    };
    Write::new(request, format!("{verb} Box user {target}")).perform_unless(action.dry_run, || {
        let response = api
            .get(&format!("/users/{segment}"))
            .query("fields", "status")
            .send()?;
        if response.status() == 404 {
            return Err(ConnectorError::not_found(format!(
                "no Box user `{target}`: {}",
                api::message(&response)
            )));
        }
        let user = response.error_for_status()?.json_value()?;
        let now = json::str_at(&user, "status").unwrap_or_default();
        Ok((now == status).then(|| format!("Box user {target} is {now}")))
    })
}

/// The file's Box id, the user to act as, and its current `fields` (read even in a
/// dry run, to plan the right write); `not-found` for an unknown file.
fn read_file(
    api: &Api,
    action: &Action,
    fields: &str,
) -> Result<(String, Option<String>, Value), ConnectorError> {
    let (file, user) = files::split_id(&action.target)?;
    let request = api.get(&format!("/files/{file}")).query("fields", fields);
    let response = api::as_user(request, user.as_deref()).send()?;
    if response.status() == 404 {
        return Err(ConnectorError::not_found(format!(
            "no Box file `{}` visible to its owner: {}",
            action.target.trim(),
            api::message(&response)
        )));
    }
    let value = response.error_for_status()?.json_value()?;
    Ok((file, user, value))
}

fn remove_link(api: &Api, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let (file, user, value) = read_file(api, action, "shared_link")?;
    let request = api::as_user(
        http::put(api.url(&format!("/files/{file}")))
            .query("fields", "shared_link")
            .header("accept", "application/json")
            .json_body(&json!({"shared_link": null})),
        user.as_deref(),
    );
    let what = format!("remove the shared link of Box file {file}");
    let linked = json::at(&value, "shared_link").is_some();
    Write::new(request, what).perform_unless(action.dry_run, || {
        Ok((!linked).then(|| format!("Box file {file} has no shared link")))
    })
}

fn trash(api: &Api, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let (file, user) = files::split_id(&action.target)?;
    let request = api::as_user(
        http::delete(api.url(&format!("/files/{file}"))),
        user.as_deref(),
    );
    Write::new(
        request,
        format!("move Box file {file} to its owner's trash"),
    )
    .gone_is_already()
    .perform(action.dry_run)
}

fn quarantine(api: &Api, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let folder = config::get("quarantine_folder_id").ok_or_else(|| {
        ConnectorError::invalid_config(
            "quarantine-file needs the config field `quarantine_folder_id`: the folder, owned \
             by an admin, that quarantined files are moved into",
        )
    })?;
    let (file, user, value) = read_file(api, action, "parent,shared_link")?;
    let request = api::as_user(
        http::put(api.url(&format!("/files/{file}")))
            .header("accept", "application/json")
            .json_body(&json!({"parent": {"id": folder}, "shared_link": null})),
        user.as_deref(),
    );
    let what = format!(
        "move Box file {file} into quarantine folder {folder} (it then belongs to that \
         folder's owner) and remove its shared link"
    );
    let inside = json::str_at(&value, "/parent/id").as_deref() == Some(folder.as_str());
    Write::new(request, what).perform_unless(action.dry_run, || {
        Ok(inside.then(|| format!("Box file {file} is in quarantine folder {folder}")))
    })
}

fn remove_collaborator(api: &Api, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let principal = action::param(action, "principal").ok_or_else(|| {
        ConnectorError::other(
            "remove-file-collaborator needs the param `principal`: a login, group id or \
             email as in the file's sharing principals",
        )
    })?;
    let (file, user, value) = read_file(api, action, "path_collection")?;
    let matches = |c: &Value| {
        files::collaborator_id(c).is_some_and(|(id, _)| id.eq_ignore_ascii_case(principal))
            || json::str_at(c, "/accessible_by/id").as_deref() == Some(principal)
    };
    let mut found = files::collaborations(api, "files", &file, user.as_deref())?
        .into_iter()
        .find(|c| matches(c))
        .map(|c| (c, format!("file {file}")));
    if found.is_none() {
        let ancestors: Vec<String> = json::at(&value, "/path_collection/entries")
            .and_then(Value::as_array)
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|e| json::str_at(e, "id"))
                    .collect()
            })
            .unwrap_or_default();
        for folder in ancestors.iter().rev().filter(|id| *id != "0") {
            let collaborations = files::collaborations(api, "folders", folder, user.as_deref())?;
            if let Some(c) = collaborations.into_iter().find(|c| matches(c)) {
                found = Some((c, format!("folder {folder}, which holds file {file}")));
                break;
            }
        }
    }
    let Some((collaboration, on)) = found else {
        return Ok(ActionOutcome::already(
            &format!("no collaboration gives {principal} access to Box file {file}"),
            Vec::new(),
        ));
    };
    let id = json::str_at(&collaboration, "id")
        .ok_or_else(|| ConnectorError::upstream("a Box collaboration without an id"))?;
    let segment = action::target_segment(&id)?;
    let request = api::as_user(
        http::delete(api.url(&format!("/collaborations/{segment}"))),
        user.as_deref(),
    );
    Write::new(
        request,
        format!("remove {principal}'s collaboration {id} on {on}"),
    )
    .gone_is_already()
    .perform(action.dry_run)
}

fn apply_label(api: &Api, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let label = action::param(action, "label").ok_or_else(|| {
        ConnectorError::other(
            "apply-label needs the param `label`: a classification of the enterprise, e.g. \
             `Confidential`",
        )
    })?;
    let (file, user) = files::split_id(&action.target)?;
    let url = api.url(&format!(
        "/files/{file}/metadata/enterprise/{CLASSIFICATION_TEMPLATE}"
    ));
    let current = api::as_user(
        api.get(&format!(
            "/files/{file}/metadata/enterprise/{CLASSIFICATION_TEMPLATE}"
        )),
        user.as_deref(),
    )
    .send()?;
    let existing = match current.status() {
        404 => None,
        _ => {
            let body = current.error_for_status()?.json_value()?;
            Some(json::str_at(&body, CLASSIFICATION_KEY).unwrap_or_default())
        }
    };
    let what = format!("classify Box file {file} as {label}");
    let request = match &existing {
        None => http::post(url).json_body(&json!({ CLASSIFICATION_KEY: label })),
        Some(_) => http::put(url)
            .json_body(
                &json!([{"op": "replace", "path": format!("/{CLASSIFICATION_KEY}"),
                "value": label}]),
            )
            .header("content-type", "application/json-patch+json"),
    };
    let request = api::as_user(
        request.header("accept", "application/json"),
        user.as_deref(),
    );
    let already = existing.as_deref() == Some(label);
    Write::new(request, what).perform_unless(action.dry_run, || {
        Ok(already.then(|| format!("Box file {file} is classified {label}")))
    })
}

#[cfg(test)]
mod tests {
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::action;

    use super::*;
    use crate::api::fake::{self, BASE};

    fn with_param(mut a: Action, name: &str, value: &str) -> Action {
        a.params.push((name.into(), value.into()));
        a
    }

    #[test]
    fn suspends_with_one_put_and_reports_already_inactive() {
        let host = fake::boxed(vec![
            (
                format!("{BASE}/users/7?fields=status"),
                fake::json(&json!({"type": "user", "id": "7", "status": "active"})),
            ),
            (
                format!("{BASE}/users/7"),
                fake::json(&json!({"id": "7", "status": "inactive"})),
            ),
        ]);
        let (result, host) = host.run(|| {
            act(
                &fake::ctx(10, None),
                &action(ActionKind::SuspendUser, "7", false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Done);
        let put = &host.requests()[1];
        assert_eq!(put.line(), format!("PUT {BASE}/users/7"));
        let body: Value = serde_json::from_slice(put.body.as_deref().unwrap()).unwrap();
        assert_eq!(body, json!({"status": "inactive"}));

        let host = fake::boxed(vec![(
            format!("{BASE}/users/7?fields=status"),
            fake::json(&json!({"id": "7", "status": "inactive"})),
        )]);
        let (result, host) = host.run(|| {
            act(
                &fake::ctx(10, None),
                &action(ActionKind::SuspendUser, "7", false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Already);
        assert_eq!(host.requests().len(), 1);
        let (result, _) = fake::boxed(vec![]).run(|| {
            act(
                &fake::ctx(10, None),
                &action(ActionKind::UnsuspendUser, "9", false),
            )
        });
        assert!(matches!(result, Err(ConnectorError::NotFound(_))));
    }

    #[test]
    fn file_actions_act_as_the_owner_and_read_first() {
        let host = fake::boxed(vec![(
            format!("{BASE}/files/100?fields=shared_link"),
            fake::json(&json!({"id": "100", "shared_link": {"access": "open"}})),
        )]);
        let (result, host) = host.run(|| {
            act(
                &fake::ctx(10, None),
                &action(ActionKind::RemovePublicLink, "100@1", true),
            )
        });
        let outcome = result.unwrap();
        assert_eq!(outcome.status, ActionStatus::Planned);
        assert_eq!(
            outcome.requests,
            [format!("PUT {BASE}/files/100?fields=shared_link")]
        );
        assert_eq!(host.requests().len(), 1, "a dry run only reads");
        assert_eq!(host.requests()[0].header("as-user"), Some("1"));

        let host = fake::boxed(vec![(
            format!("{BASE}/files/100?fields=shared_link"),
            fake::json(&json!({"id": "100", "shared_link": null})),
        )]);
        let (result, _) = host.run(|| {
            act(
                &fake::ctx(10, None),
                &action(ActionKind::RemovePublicLink, "100@1", false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Already);

        let host = fake::boxed(vec![]).config("quarantine_folder_id", "555");
        let (result, _) = host.run(|| {
            act(
                &fake::ctx(10, None),
                &action(ActionKind::QuarantineFile, "100@1", false),
            )
        });
        assert!(matches!(result, Err(ConnectorError::NotFound(_))));
        let (result, _) = fake::boxed(vec![]).run(|| {
            act(
                &fake::ctx(10, None),
                &action(ActionKind::QuarantineFile, "100@1", false),
            )
        });
        assert!(matches!(result, Err(ConnectorError::InvalidConfig(_))));

        let host = fake::boxed(vec![(
            format!("{BASE}/files/100"),
            Response::new(404, vec![], ""),
        )]);
        let (result, host) = host.run(|| {
            act(
                &fake::ctx(10, None),
                &action(ActionKind::TrashFile, "100@1", false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Already);
        assert_eq!(
            host.requests()[0].line(),
            format!("DELETE {BASE}/files/100")
        );
    }

    #[test]
    fn a_collaborator_is_removed_where_the_access_comes_from() {
        let host = fake::boxed(vec![
            (
                format!("{BASE}/files/100?fields=path_collection"),
                fake::json(
                    &json!({"id": "100", "path_collection": {"total_count": 2, "entries": [
                    {"type": "folder", "id": "0"}, {"type": "folder", "id": "10"}]}}),
                ),
            ),
            (
                format!("{BASE}/files/100/collaborations?limit=1000"),
                fake::json(&json!({"entries": []})),
            ),
            (
                format!("{BASE}/folders/10/collaborations?limit=1000"),
                fake::json(&json!({"entries": [{"type": "collaboration", "id": "c9",
                    "accessible_by": {"type": "user", "id": "99", "login": "Guest@Partner.test"}}]})),
            ),
            (
                format!("{BASE}/collaborations/c9"),
                Response::new(204, vec![], ""),
            ),
        ]);
        let a = with_param(
            action(ActionKind::RemoveFileCollaborator, "100@1", false),
            "principal",
            "guest@partner.test",
        );
        let (result, host) = host.run(|| act(&fake::ctx(10, None), &a));
        let outcome = result.unwrap();
        assert_eq!(outcome.status, ActionStatus::Done, "{outcome:?}");
        assert!(outcome.message.contains("folder 10"), "{}", outcome.message);
        assert_eq!(
            outcome.requests,
            [format!("DELETE {BASE}/collaborations/c9")]
        );
        assert!(
            host.requests()
                .iter()
                .all(|r| r.header("as-user") == Some("1"))
        );
    }

    #[test]
    fn labels_are_added_or_replaced() {
        let meta = format!("{BASE}/files/100/metadata/enterprise/{CLASSIFICATION_TEMPLATE}");
        let a = with_param(
            action(ActionKind::ApplyLabel, "100@1", false),
            "label",
            "Confidential",
        );
        let host = fake::boxed(vec![]).on_request({
            let meta = meta.clone();
            move |r| {
                Ok(if r.url == meta && r.method == Method::Get {
                    fake::error(404, "instance_not_found", "Instance not found")
                } else {
                    fake::json(&json!({}))
                })
            }
        });
        let (result, host) = host.run(|| act(&fake::ctx(10, None), &a));
        assert_eq!(result.unwrap().status, ActionStatus::Done);
        assert_eq!(host.requests()[1].method, Method::Post);
        let host = fake::boxed(vec![(
            meta.clone(),
            fake::json(&json!({CLASSIFICATION_KEY: "Public"})),
        )]);
        let (result, host) = host.run(|| act(&fake::ctx(10, None), &a));
        assert!(result.is_ok());
        let put = &host.requests()[1];
        assert_eq!(put.method, Method::Put);
        assert_eq!(
            put.header("content-type"),
            Some("application/json-patch+json")
        );
    }
}

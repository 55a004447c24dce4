//! `act`: turning a person's sign-in off and on again (beyond the provider docs'
//! table, whose Webex row leaves user governance blank).
//!
//! | action | request |
//! |---|---|
//! | `suspend-user` | `PUT /v1/people/{personId}` with `loginEnabled: false` |
//! | `unsuspend-user` | `PUT /v1/people/{personId}` with `loginEnabled: true` |
//! | `quarantine-file` | `DELETE /v1/messages/{messageId}` (see [`delete_message`]) |
//! | `remove-file-collaborator` | `DELETE /v1/memberships/{membershipId}` (see [`remove_member`]) |
//!
//! Webex's update replaces the person ("include all details for the person"), so the
//! action first reads `GET /v1/people/{personId}` and sends that body back with only
//! `loginEnabled` changed. A person already in the asked state is `already` and
//! nothing is written; an unknown person (404) is `not-found`. Webex records the
//! change in the admin audit log, so the next activity scan shows it. Needs
//! `spark-admin:people_write` and `spark-admin:people_read`. A dry run reads nothing
//! and lists the write.

use serde_json::json;
use sluice_sdk::prelude::*;

use crate::api::{self, Api};
use crate::{files, people};

/// Performs or plans `action`.
pub fn act(ctx: &Context, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let api = Api::new(ctx)?;
    let enable = match action.kind {
        ActionKind::SuspendUser => false,
        ActionKind::UnsuspendUser => true,
        ActionKind::QuarantineFile => return delete_message(&api, action),
        ActionKind::RemoveFileCollaborator => return remove_member(&api, action),
        _ => return Err(action::unsupported("Webex", action)),
    };
    let target = action.target.trim();
    let segment = action::target_segment(target)?;
    let url = api.url(&format!("/people/{segment}"));
    let what = format!(
        "{} sign-in for Webex person {target}",
        if enable { "enable" } else { "disable" }
    );
    let put = |body: &Value| {
        http::put(&url)
            .header("accept", "application/json")
            .json_body(body)
    };
    if action.dry_run {
        return Write::new(put(&json!({"loginEnabled": enable})), what).perform(true);
    }
    let response = api.get_url(&url).send()?;
    if response.status() == 404 {
        return Err(ConnectorError::not_found(format!(
            "no Webex person `{target}`: {}",
            api::message(&response)
        )));
    }
    let mut person = api::check_status(response)?.json_value()?;
    let suspended = people::status_of(&person) == UserStatus::Suspended;
    if suspended != enable {
        let state = if enable { "enabled" } else { "disabled" };
        return Ok(ActionOutcome::already(
            &format!("sign-in for Webex person {target} is already {state}"),
            Vec::new(),
        ));
    }
    if let Some(fields) = person.as_object_mut() {
        fields.insert("loginEnabled".into(), Value::Bool(enable));
    }
    Write::new(put(&person), what).perform(false)
}

/// `quarantine-file`: Webex has no quarantine; the compliance officer deletes the
/// message that holds the file (`DELETE /v1/messages/{messageId}`,
/// `spark-compliance:messages_write`), which removes it, and every other file of that
/// message, for everyone, irreversibly. A message already gone (404) is `already`.
fn delete_message(api: &Api, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let (message, _) = files::split_id(action.target.trim())?;
    let segment = action::target_segment(message)?;
    let request =
        http::delete(api.url(&format!("/messages/{segment}"))).header("accept", "application/json");
    Write::new(
        request,
        format!(
            "delete Webex message {message} with file {} (irreversible: Webex has no \
             quarantine)",
            action.target.trim()
        ),
    )
    .gone_is_already()
    .perform(action.dry_run)
}

/// `remove-file-collaborator`: a Webex file is shared with the members of its space,
/// so the person (`principal`: email or person id, as in `file.sharing`) leaves the
/// space of the file's message. Three requests: the message
/// (`GET /v1/messages/{messageId}`, for its `roomId`), the person's membership there
/// (`GET /v1/memberships?roomId=…&personEmail=…` or `personId=…`) and its
/// `DELETE /v1/memberships/{membershipId}` (`spark-compliance:memberships_write`).
/// They lose every file and message of that space, which the outcome says. Not a
/// member (any more) is `already`; a message gone is `not-found`.
fn remove_member(api: &Api, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let file = action.target.trim();
    let (message, _) = files::split_id(file)?;
    let principal = action::param(action, "principal").ok_or_else(|| {
        ConnectorError::Other(
            "remove-file-collaborator needs `principal`: the member's email or person id".into(),
        )
    })?;
    let what = |room: &str| {
        format!(
            "remove {principal} from Webex space {room}, which holds file {file} (they lose              every message and file of the space)"
        )
    };
    if action.dry_run {
        let plan = [
            format!("GET {}", api.url(&format!("/messages/{message}"))),
            format!("GET {}", api.url("/memberships")),
            format!("DELETE {}", api.url("/memberships/{membershipId}")),
        ];
        return Ok(ActionOutcome::planned(&what("of the file"), plan.to_vec()));
    }
    let segment = action::target_segment(message)?;
    let found = api.get(&format!("/messages/{segment}")).send()?;
    if found.status() == 404 {
        return Err(ConnectorError::not_found(format!(
            "Webex message {message} of file {file} is gone: {}",
            api::message(&found)
        )));
    }
    let found = api::check_status(found)?.json_value()?;
    let room = json::str_at(&found, "roomId")
        .ok_or_else(|| ConnectorError::upstream("the message answered no `roomId`"))?;
    let by = if principal.contains('@') {
        "personEmail"
    } else {
        "personId"
    };
    let (members, _) = api.page(
        api.get("/memberships")
            .query("roomId", &room)
            .query(by, principal),
    )?;
    let Some(membership) = members.first().and_then(|m| json::str_at(m, "id")) else {
        return Ok(ActionOutcome::already(
            &format!("{principal} is not a member of Webex space {room}"),
            Vec::new(),
        ));
    };
    let segment = action::target_segment(&membership)?;
    let request = http::delete(api.url(&format!("/memberships/{segment}")))
        .header("accept", "application/json");
    Write::new(request, what(&room))
        .gone_is_already()
        .perform(false)
}

#[cfg(test)]
mod tests {
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::action;

    use super::*;
    use crate::api::fake::{self, BASE};

    fn person(login_enabled: bool) -> Response {
        fake::json(
            &json!({"id": "p1", "emails": ["p1@x.test"], "displayName": "P One",
            "roles": [], "licenses": ["l1"], "loginEnabled": login_enabled}),
        )
    }

    #[test]
    fn dry_runs_send_nothing() {
        for kind in [ActionKind::SuspendUser, ActionKind::UnsuspendUser] {
            let (result, host) =
                fake::webex(vec![]).run(|| act(&fake::ctx(100, None), &action(kind, "p1", true)));
            let outcome = result.unwrap();
            assert_eq!(outcome.status, ActionStatus::Planned);
            assert_eq!(outcome.requests, [format!("PUT {BASE}/people/p1")]);
            assert!(host.requests().is_empty());
        }
    }

    #[test]
    fn suspends_by_putting_the_whole_person_back_with_login_disabled() {
        let url = format!("{BASE}/people/p1");
        let host = fake::webex(vec![(url.clone(), person(true))]);
        let (result, host) = host.run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::SuspendUser, "p1", false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Done);
        let sent = host.requests();
        assert_eq!(sent.len(), 2);
        let body: Value = serde_json::from_slice(sent[1].body.as_deref().unwrap()).unwrap();
        assert_eq!(body["loginEnabled"], json!(false));
        assert_eq!(
            body["licenses"],
            json!(["l1"]),
            "unchanged fields are sent back"
        );

        let host = fake::webex(vec![(url, person(false))]);
        let (result, host) = host.run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::SuspendUser, "p1", false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Already);
        assert_eq!(host.requests().len(), 1, "no PUT");

        let (result, _) = fake::webex(vec![]).run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::UnsuspendUser, "p9", false),
            )
        });
        assert!(
            matches!(result, Err(ConnectorError::NotFound(_))),
            "{result:?}"
        );
    }

    #[test]
    fn removing_a_collaborator_deletes_their_membership_of_the_file_s_space() {
        let remove = |principal: &str, dry_run: bool| {
            let mut a = action(ActionKind::RemoveFileCollaborator, "m1.c1", dry_run);
            a.params = vec![("principal".into(), principal.into())];
            a
        };
        let members = format!("{BASE}/memberships?roomId=r1&personEmail=g%40p.test");
        let routes = |members_body: Value| {
            vec![
                (
                    format!("{BASE}/messages/m1"),
                    fake::json(&json!({"id": "m1", "roomId": "r1"})),
                ),
                (members.clone(), fake::json(&members_body)),
                (
                    format!("{BASE}/memberships/ms9"),
                    Response::new(204, vec![], ""),
                ),
            ]
        };
        let (result, host) = fake::webex(routes(json!({"items": [{"id": "ms9"}]})))
            .run(|| act(&fake::ctx(100, None), &remove("g@p.test", false)));
        let outcome = result.unwrap();
        assert_eq!(outcome.status, ActionStatus::Done, "{}", outcome.message);
        assert!(outcome.message.contains("space r1"), "{}", outcome.message);
        let sent: Vec<String> = (host.requests().iter())
            .map(|r| format!("{:?} {}", r.method, r.url))
            .collect();
        assert_eq!(
            sent.last().unwrap(),
            &format!("Method::Delete {BASE}/memberships/ms9")
        );

        let (result, host) = fake::webex(routes(json!({"items": []})))
            .run(|| act(&fake::ctx(100, None), &remove("g@p.test", false)));
        assert_eq!(result.unwrap().status, ActionStatus::Already);
        assert_eq!(host.requests().len(), 2, "no DELETE");

        let (result, host) =
            fake::webex(vec![]).run(|| act(&fake::ctx(100, None), &remove("g@p.test", true)));
        assert_eq!(result.unwrap().status, ActionStatus::Planned);
        assert!(host.requests().is_empty(), "a dry run reads nothing");
        let (result, _) = fake::webex(vec![]).run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::RemoveFileCollaborator, "m1.c1", false),
            )
        });
        assert!(result.is_err(), "no principal");
    }

    #[test]
    fn quarantine_deletes_the_message_holding_the_file() {
        let url = format!("{BASE}/messages/m1");
        let (result, host) = fake::webex(vec![]).run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::QuarantineFile, "m1.c1", true),
            )
        });
        assert_eq!(result.unwrap().requests, [format!("DELETE {url}")]);
        assert!(host.requests().is_empty());

        let gone = fake::webex(vec![(url.clone(), Response::new(204, vec![], ""))]);
        let (result, _) = gone.run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::QuarantineFile, "m1.c1", false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Done);
        let (result, _) = fake::webex(vec![]).run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::QuarantineFile, "m1.c1", false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Already, "404: gone");
    }
}

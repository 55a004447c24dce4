//! `list-activities`: sign-ins from the event log (`sysevent`) and record changes from
//! the audit history (`sys_audit`), read incrementally by `sys_created_on`.
//!
//! Two feeds behind one [`FeedSet`] cursor, each a query ordered oldest first,
//! `…^sys_created_on>=<newest seen>^ORDERBYsys_created_on^ORDERBYsys_id`, paged by the
//! `rel="next"` link. ServiceNow's times are whole seconds, so a restarted query
//! returns the boundary second's rows again and the cursor drops those it already
//! returned: each row is stored once.
//!
//! **Logon** (`sysevent`, the event queue, `nameIN` the events below). The event log is
//! where the platform and every single sign-on integration record sign-ins ("Monitor
//! the event queue for login activities"); it is chosen over the transaction log
//! (`syslog_transaction`) because that one records every page and API call, not
//! sign-ins, and never a failed one.
//!
//! | event | outcome | `parm1` | `parm2` |
//! |---|---|---|---|
//! | `login` | success | user name | client IP |
//! | `login.failed` | failure | user name | client IP |
//! | `logout` | success | user name | client IP |
//! | `external.authentication.succeeded` | success | user sys_id | URL accessed |
//! | `external.authentication.failed` | failure | session or user id | reason |
//!
//! **User and admin activity** (`sys_audit`, "Partial" in the provider docs' table):
//! one row per changed field of an audited table (`tablename`, `documentkey`,
//! `fieldname`, `oldvalue`, `newvalue`, `user`). Changes to the tables that govern
//! access ([`ADMIN_TABLES`]: users, groups, memberships, roles, ACLs, properties) are
//! admin activity; changes to any other audited record (incidents, changes, …) are user
//! activity. Partial, as ServiceNow records it: only tables with auditing on are
//! audited, reads are not audited, and there is no client IP.

use std::net::IpAddr;

use sluice_sdk::prelude::*;

use crate::api::{self, Api};

/// The sign-in events read from `sysevent`.
pub const LOGON_EVENTS: &[&str] = &[
    "login",
    "login.failed",
    "logout",
    "external.authentication.succeeded",
    "external.authentication.failed",
];

/// Tables whose audited changes are administration: who exists, who may do what, how
/// the instance is secured.
pub const ADMIN_TABLES: &[&str] = &[
    "sys_user",
    "sys_user_group",
    "sys_user_grmember",
    "sys_user_has_role",
    "sys_group_has_role",
    "sys_user_role",
    "sys_user_role_contains",
    "sys_security_acl",
    "sys_security_acl_role",
    "sys_properties",
    "oauth_entity",
    "sys_auth_profile_basic",
    "saml2_update1_properties",
    "multi_factor_criteria",
];

/// Feed keys, in reading order.
const FEEDS: [&str; 2] = ["logon", "audit"];

/// One page of one feed.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<ActivityPage, ConnectorError> {
    let api = Api::new(ctx)?;
    FeedSet::resume(cursor, ctx.since)?.step(&FEEDS, |source| {
        let url = match &source.feed.next {
            Some(url) => url.clone(),
            None => first_url(&api, source.key, source.feed.ts),
        };
        let (rows, next) = api.page(&url)?;
        let mut items = if source.key == "logon" {
            json::map_items(&rows, "ServiceNow sign-in events", logon)
        } else {
            json::map_items(&rows, "ServiceNow audit rows", audit)
        };
        let done = next.is_none();
        source.feed.advance(&mut items, next);
        Ok((items, done))
    })
}

/// The query of feed `key` from `since` (ms) on, oldest first.
pub fn first_url(api: &Api, key: &str, since: Option<i64>) -> String {
    let mut conditions = Vec::new();
    let table = if key == "logon" {
        conditions.push(format!("nameIN{}", LOGON_EVENTS.join(",")));
        "sysevent"
    } else {
        "sys_audit"
    };
    if let Some(since) = since.and_then(api::format_time) {
        conditions.push(format!("sys_created_on>={since}"));
    }
    conditions.push("ORDERBYsys_created_on^ORDERBYsys_id".into());
    api.list(table, None, Some(&conditions.join("^")), api.page_size())
        .url()
        .to_owned()
}

/// `text` when it is an IP address.
fn ip(text: Option<String>) -> Option<String> {
    text.filter(|t| t.trim().parse::<IpAddr>().is_ok())
}

/// The activity for a sysevent row; none without a sys_id or time.
pub fn logon(row: &Value) -> Option<Activity> {
    let name = api::text(row, "name").unwrap_or_default();
    let outcome = match name.as_str() {
        "login.failed" | "external.authentication.failed" => Outcome::Failure,
        "login" | "logout" | "external.authentication.succeeded" => Outcome::Success,
        _ => Outcome::Unknown,
    };
    let external = name.starts_with("external.");
    Some(Activity {
        actor: api::text(row, "parm1").or_else(|| api::text(row, "user_name")),
        ip: if external {
            None
        } else {
            ip(api::text(row, "parm2"))
        },
        session_id: external.then(|| api::text(row, "instance")).flatten(),
        outcome,
        ..Activity::new(
            api::text(row, "sys_id")?,
            api::time_of(row, "sys_created_on")?,
            ActivityKind::Logon,
            name,
            json::raw(row),
        )
    })
}

/// The activity for a sys_audit row; none without a sys_id or time. The action is
/// `<table>.<field>` (`sys_user.locked_out`), the target the changed record's sys_id.
pub fn audit(row: &Value) -> Option<Activity> {
    let table = api::text(row, "tablename").unwrap_or_default();
    let field = api::text(row, "fieldname").unwrap_or_default();
    let kind = if ADMIN_TABLES.contains(&table.as_str()) {
        ActivityKind::Admin
    } else {
        ActivityKind::User
    };
    Some(Activity {
        actor: api::text(row, "user"),
        targets: api::text(row, "documentkey").into_iter().collect(),
        outcome: Outcome::Success,
        ..Activity::new(
            api::text(row, "sys_id")?,
            api::time_of(row, "sys_created_on")?,
            kind,
            format!("{table}.{field}"),
            json::raw(row),
        )
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluice_sdk::testing::NEW_YEAR;

    use super::*;
    use crate::api::fake;

    fn event(id: &str, second: i64, name: &str) -> Value {
        json!({"sys_id": id, "name": name, "parm1": "abel.tuter", "parm2": "198.51.100.7",
               "instance": "", "queue": "", "state": "processed",
               "sys_created_on": api::format_time(NEW_YEAR + second * 1000).unwrap()})
    }

    fn change(id: &str, second: i64, table: &str, field: &str) -> Value {
        json!({"sys_id": id, "tablename": table, "fieldname": field, "documentkey": "doc1",
               "oldvalue": "false", "newvalue": "true", "user": "admin", "reason": "",
               "record_checkpoint": "3", "sys_created_on": api::format_time(NEW_YEAR + second * 1000).unwrap()})
    }

    #[test]
    fn rows_map_to_the_documented_kinds_and_outcomes() {
        let ok = logon(&event("e1", 1, "login")).unwrap();
        assert_eq!(
            (ok.kind, ok.outcome),
            (ActivityKind::Logon, Outcome::Success)
        );
        assert_eq!(ok.actor.as_deref(), Some("abel.tuter"));
        assert_eq!(ok.ip.as_deref(), Some("198.51.100.7"));
        assert_eq!(ok.time, NEW_YEAR + 1000);
        let failed = logon(&event("e2", 1, "login.failed")).unwrap();
        assert_eq!(failed.outcome, Outcome::Failure);
        let sso = logon(&json!({"sys_id": "e3", "name": "external.authentication.failed",
            "parm1": "abel.tuter", "parm2": "User locked out.", "sys_created_on": "2024-01-01 00:00:00"}))
        .unwrap();
        assert_eq!((sso.outcome, sso.ip), (Outcome::Failure, None));

        let admin = audit(&change("a1", 2, "sys_user", "locked_out")).unwrap();
        assert_eq!(
            (admin.kind, admin.action.as_str()),
            (ActivityKind::Admin, "sys_user.locked_out")
        );
        assert_eq!(admin.actor.as_deref(), Some("admin"));
        assert_eq!(admin.targets, ["doc1"]);
        let user = audit(&change("a2", 2, "incident", "state")).unwrap();
        assert_eq!(user.kind, ActivityKind::User);
        assert!(audit(&json!({"sys_id": "x"})).is_none(), "no time");
    }

    #[test]
    fn reads_each_feed_from_since_then_resumes_at_the_newest_without_repeats() {
        let q = |table: &str, condition: &str| {
            fake::table(&format!(
                "{table}?sysparm_query={condition}ORDERBYsys_created_on%5EORDERBYsys_id&sysparm_limit=2&sysparm_offset=0"
            ))
        };
        let names = "nameINlogin%2Clogin.failed%2Clogout%2Cexternal.authentication.succeeded%2Cexternal.authentication.failed%5E";
        let logon_first = q(
            "sysevent",
            &format!("{names}sys_created_on%3E%3D2024-01-01%2000%3A00%3A00%5E"),
        );
        let logon_next = fake::table("sysevent?sysparm_offset=2");
        let audit_first = q(
            "sys_audit",
            "sys_created_on%3E%3D2024-01-01%2000%3A00%3A00%5E",
        );
        let logon_again = q(
            "sysevent",
            &format!("{names}sys_created_on%3E%3D2024-01-01%2000%3A00%3A05%5E"),
        );
        let audit_again = q(
            "sys_audit",
            "sys_created_on%3E%3D2024-01-01%2000%3A00%3A03%5E",
        );
        let host = fake::instance(vec![
            (
                logon_first.clone(),
                fake::page(
                    json!([event("e1", 1, "login"), event("e2", 2, "login.failed")]),
                    Some(&logon_next),
                ),
            ),
            (
                logon_next.clone(),
                fake::page(json!([event("e3", 5, "logout")]), None),
            ),
            (
                audit_first.clone(),
                fake::page(json!([change("a1", 3, "sys_user", "active")]), None),
            ),
            // The boundary second again, and one new row in each feed.
            (
                logon_again.clone(),
                fake::page(
                    json!([event("e3", 5, "logout"), event("e4", 5, "login")]),
                    None,
                ),
            ),
            (
                audit_again.clone(),
                fake::page(
                    json!([
                        change("a1", 3, "sys_user", "active"),
                        change("a2", 9, "incident", "state")
                    ]),
                    None,
                ),
            ),
        ]);
        let ctx = fake::ctx(2, Some(NEW_YEAR));
        let (pages, host) = host.run(|| sluice_sdk::testing::next_pages(5, |c| list(&ctx, c)));
        let urls: Vec<_> = host.requests().iter().map(|r| r.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                logon_first,
                logon_next,
                audit_first,
                logon_again,
                audit_again
            ]
        );
        let ids: Vec<Vec<&str>> = pages
            .iter()
            .map(|p| p.items.iter().map(|a| a.id.as_str()).collect())
            .collect();
        assert_eq!(
            ids,
            [
                vec!["e1", "e2"],
                vec!["e3"],
                vec!["a1"],
                vec!["e4"],
                vec!["a2"]
            ]
        );
        let more: Vec<bool> = pages.iter().map(|p| p.more).collect();
        assert_eq!(more, [true, true, false, true, false]);
    }

    #[test]
    fn an_acl_refusal_is_forbidden_in_servicenow_s_words() {
        let host = fake::instance(vec![]).on_request(|_| {
            Ok(fake::error(
                403,
                "User Not Authorized",
                "Failed API level ACL Validation",
            ))
        });
        let (result, _) = host.run(|| list(&fake::ctx(2, Some(NEW_YEAR)), None));
        assert!(
            matches!(&result, Err(ConnectorError::Forbidden(m)) if m.contains("User Not Authorized")),
            "{result:?}"
        );
    }
}

//! The [`Connector`] trait: what a connector implements instead of the generated
//! [`Guest`](crate::Guest).
//!
//! The WIT `connector` interface has ten exports and most connectors support only some
//! of them. Every method here but [`Connector::describe`] defaults to an `unsupported`
//! error, so a connector writes what it does and nothing else; a blanket impl adapts
//! any [`Connector`] to the generated `Guest`, which is what
//! [`export_connector!`](crate::export_connector) exports. New exports in later
//! contract versions get a default here, so connectors keep building.

use crate::bindings::exports::sluice::connector::connector::Guest;
use crate::bindings::sluice::connector::types::{
    Action, ActionOutcome, ActivityPage, AppPermissionPage, ConnectorError, ConnectorInfo, Context,
    FileChunk, FilePage, Finding, GroupPage, Permissions, UserPage,
};

/// A connector. Implement [`describe`](Connector::describe) and the exports the
/// connector's capabilities promise; the rest answer `unsupported`.
///
/// Methods take what the WIT export takes; `cursor` is the string a previous page
/// returned as `next_cursor` (see [`pagination`](crate::pagination)).
#[allow(unused_variables)]
pub trait Connector {
    /// What the operator sees before connecting: capabilities, config, auth, egress.
    fn describe() -> ConnectorInfo;

    /// Verifies the configuration and credentials and reports what they allow.
    fn check(ctx: Context) -> Result<Permissions, ConnectorError> {
        Err(unsupported("check"))
    }

    /// One page of user accounts.
    fn list_users(ctx: Context, cursor: Option<String>) -> Result<UserPage, ConnectorError> {
        Err(unsupported("list users"))
    }

    /// One page of groups.
    fn list_groups(ctx: Context, cursor: Option<String>) -> Result<GroupPage, ConnectorError> {
        Err(unsupported("list groups"))
    }

    /// One page of activities.
    fn list_activities(
        ctx: Context,
        cursor: Option<String>,
    ) -> Result<ActivityPage, ConnectorError> {
        Err(unsupported("list activities"))
    }

    /// One page of files.
    fn list_files(ctx: Context, cursor: Option<String>) -> Result<FilePage, ConnectorError> {
        Err(unsupported("list files"))
    }

    /// Up to `length` bytes of file `id` from byte `offset`.
    fn read_file(
        ctx: Context,
        id: String,
        offset: u64,
        length: u32,
    ) -> Result<FileChunk, ConnectorError> {
        Err(unsupported("read file content"))
    }

    /// One page of third-party app permissions.
    fn list_app_permissions(
        ctx: Context,
        cursor: Option<String>,
    ) -> Result<AppPermissionPage, ConnectorError> {
        Err(unsupported("list app permissions"))
    }

    /// Security-posture findings.
    fn posture(ctx: Context) -> Result<Vec<Finding>, ConnectorError> {
        Err(unsupported("report posture"))
    }

    /// Carries out a response action.
    fn act(ctx: Context, action: Action) -> Result<ActionOutcome, ConnectorError> {
        Err(unsupported("act"))
    }
}

/// The error of an export the connector does not implement.
fn unsupported(what: &str) -> ConnectorError {
    ConnectorError::unsupported(format!("this connector does not {what}"))
}

impl<C: Connector> Guest for C {
    fn describe() -> ConnectorInfo {
        C::describe()
    }
    fn check(ctx: Context) -> Result<Permissions, ConnectorError> {
        C::check(ctx)
    }
    fn list_users(ctx: Context, cursor: Option<String>) -> Result<UserPage, ConnectorError> {
        C::list_users(ctx, cursor)
    }
    fn list_groups(ctx: Context, cursor: Option<String>) -> Result<GroupPage, ConnectorError> {
        C::list_groups(ctx, cursor)
    }
    fn list_activities(
        ctx: Context,
        cursor: Option<String>,
    ) -> Result<ActivityPage, ConnectorError> {
        C::list_activities(ctx, cursor)
    }
    fn list_files(ctx: Context, cursor: Option<String>) -> Result<FilePage, ConnectorError> {
        C::list_files(ctx, cursor)
    }
    fn read_file(
        ctx: Context,
        id: String,
        offset: u64,
        length: u32,
    ) -> Result<FileChunk, ConnectorError> {
        C::read_file(ctx, id, offset, length)
    }
    fn list_app_permissions(
        ctx: Context,
        cursor: Option<String>,
    ) -> Result<AppPermissionPage, ConnectorError> {
        C::list_app_permissions(ctx, cursor)
    }
    fn posture(ctx: Context) -> Result<Vec<Finding>, ConnectorError> {
        C::posture(ctx)
    }
    fn act(ctx: Context, action: Action) -> Result<ActionOutcome, ConnectorError> {
        C::act(ctx, action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connector that only describes itself.
    struct Bare;

    impl Connector for Bare {
        fn describe() -> ConnectorInfo {
            ConnectorInfo::new("bare", "Bare", "0.1.0", "Nobody", "Nothing.")
        }
    }

    #[test]
    fn unimplemented_exports_answer_unsupported() {
        let ctx = crate::testing::context(10, None);
        assert_eq!(<Bare as Guest>::describe().id, "bare");
        for result in [
            <Bare as Guest>::list_users(ctx.clone(), None).map(drop),
            <Bare as Guest>::list_files(ctx.clone(), None).map(drop),
            <Bare as Guest>::read_file(ctx.clone(), "f".into(), 0, 10).map(drop),
            <Bare as Guest>::posture(ctx).map(drop),
        ] {
            assert!(
                matches!(result, Err(ConnectorError::Unsupported(_))),
                "{result:?}"
            );
        }
    }
}

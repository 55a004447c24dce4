//! The [`Connector`] trait: what a connector implements instead of the generated
//! [`Guest`](crate::Guest).
//!
//! The WIT `connector` interface has ten exports and most connectors support only some
//! of them. Every method here but [`Connector::describe`] and [`Connector::check`]
//! (every connector must say what it is and prove its credentials work) defaults to an
//! `unsupported` error, so a connector writes what it does and nothing else; a blanket
//! impl adapts any [`Connector`] to the generated `Guest`, which is what
//! [`export_connector!`](crate::export_connector) exports. New exports in later
//! contract versions get a default here, so connectors keep building.
//!
//! Connectors keep each export in its own module as a plain function taking
//! `(&Context, Option<&str>)`; [`connector!`](crate::connector) then declares which
//! function serves which export, writes the `impl Connector` that hands the calls on,
//! and exports the component, so no crate spells the ten signatures out again.

use crate::bindings::exports::sluice::connector::connector::Guest;
use crate::bindings::sluice::connector::types::{
    Action, ActionOutcome, ActivityPage, AppPermissionPage, ConnectorError, ConnectorInfo, Context,
    FileChunk, FilePage, Finding, GroupPage, Permissions, UserPage,
};

/// A connector. Implement [`describe`](Connector::describe), [`check`](Connector::check)
/// and the exports the connector's capabilities promise; the rest answer `unsupported`.
/// Usually written with [`connector!`](crate::connector) rather than by hand.
///
/// Methods take what the WIT export takes; `cursor` is the string a previous page
/// returned as `next_cursor` (see [`pagination`](crate::pagination)).
#[allow(unused_variables)]
pub trait Connector {
    /// What the operator sees before connecting: capabilities, config, auth, egress.
    fn describe() -> ConnectorInfo;

    /// Verifies the configuration and credentials and reports what they allow. Required:
    /// the host calls it at connect, and an instance that cannot prove its credentials
    /// must not be connected.
    fn check(ctx: Context) -> Result<Permissions, ConnectorError>;

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

/// Implements [`Connector`] for a unit struct by naming the function that serves each
/// export, and exports it as the component's `connector` interface.
///
/// Functions take what the export takes, borrowed: `describe()`, `check(&Context)`,
/// `list_*(&Context, Option<&str>)`, `posture(&Context)`, `act(&Context, &Action)`,
/// `read_file(&Context, &str, u64, u32)`. `describe` and `check` are required; exports
/// not named answer `unsupported`. Use once, at the crate root:
///
/// ```text
/// sluice_sdk::connector!(GitHub {
///     describe: describe,
///     check: check::check,
///     list_users: members::list,
///     act: actions::act,
/// });
/// ```
#[macro_export]
macro_rules! connector {
    ($connector:ident { $($export:ident: $serve:path),+ $(,)? }) => {
        $crate::__connector_impl!($connector { $($export: $serve),+ });
        $crate::export_connector!($connector);
    };
}

/// The `impl Connector` half of [`connector!`], without the export (which may stand
/// only once in a component, and not at all in this crate's own tests).
#[doc(hidden)]
#[macro_export]
macro_rules! __connector_impl {
    ($connector:ident { $($export:ident: $serve:path),+ $(,)? }) => {
        impl $crate::Connector for $connector {
            $($crate::__connector_export!($export $serve);)+
        }
    };
}

/// One export of [`connector!`]: the trait method handing the call to `$serve`.
#[doc(hidden)]
#[macro_export]
macro_rules! __connector_export {
    (describe $serve:path) => {
        fn describe() -> $crate::prelude::ConnectorInfo {
            $serve()
        }
    };
    (check $serve:path) => {
        fn check(
            ctx: $crate::prelude::Context,
        ) -> ::core::result::Result<$crate::prelude::Permissions, $crate::ConnectorError> {
            $serve(&ctx)
        }
    };
    (posture $serve:path) => {
        fn posture(
            ctx: $crate::prelude::Context,
        ) -> ::core::result::Result<::std::vec::Vec<$crate::prelude::Finding>, $crate::ConnectorError>
        {
            $serve(&ctx)
        }
    };
    (act $serve:path) => {
        fn act(
            ctx: $crate::prelude::Context,
            action: $crate::prelude::Action,
        ) -> ::core::result::Result<$crate::prelude::ActionOutcome, $crate::ConnectorError> {
            $serve(&ctx, &action)
        }
    };
    (read_file $serve:path) => {
        fn read_file(
            ctx: $crate::prelude::Context,
            id: ::std::string::String,
            offset: u64,
            length: u32,
        ) -> ::core::result::Result<$crate::prelude::FileChunk, $crate::ConnectorError> {
            $serve(&ctx, &id, offset, length)
        }
    };
    (list_users $serve:path) => {
        $crate::__connector_list!(list_users UserPage $serve);
    };
    (list_groups $serve:path) => {
        $crate::__connector_list!(list_groups GroupPage $serve);
    };
    (list_activities $serve:path) => {
        $crate::__connector_list!(list_activities ActivityPage $serve);
    };
    (list_files $serve:path) => {
        $crate::__connector_list!(list_files FilePage $serve);
    };
    (list_app_permissions $serve:path) => {
        $crate::__connector_list!(list_app_permissions AppPermissionPage $serve);
    };
}

/// A paged export of [`connector!`]: the cursor is lent as `Option<&str>`.
#[doc(hidden)]
#[macro_export]
macro_rules! __connector_list {
    ($export:ident $page:ident $serve:path) => {
        fn $export(
            ctx: $crate::prelude::Context,
            cursor: ::core::option::Option<::std::string::String>,
        ) -> ::core::result::Result<$crate::prelude::$page, $crate::ConnectorError> {
            $serve(&ctx, cursor.as_deref())
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connector that only describes itself and checks nothing.
    struct Bare;

    fn describe() -> ConnectorInfo {
        ConnectorInfo::new("bare", "Bare", "0.1.0", "Nobody", "Nothing.")
    }

    fn check(ctx: &Context) -> Result<Permissions, ConnectorError> {
        Ok(Permissions::granted(Some(ctx.instance_id.clone()), vec![]))
    }

    fn users(ctx: &Context, cursor: Option<&str>) -> Result<UserPage, ConnectorError> {
        Ok(UserPage {
            items: vec![],
            next_cursor: cursor.map(|c| format!("{c}+{}", ctx.page_size)),
        })
    }

    crate::__connector_impl!(Bare {
        describe: describe,
        check: check,
        list_users: users,
    });

    #[test]
    fn unimplemented_exports_answer_unsupported() {
        let ctx = crate::testing::context(10, None);
        assert_eq!(<Bare as Guest>::describe().id, "bare");
        for result in [
            <Bare as Guest>::list_groups(ctx.clone(), None).map(drop),
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

    #[test]
    fn named_functions_serve_their_exports_with_borrowed_arguments() {
        let ctx = crate::testing::context(10, None);
        let permissions = <Bare as Guest>::check(ctx.clone()).unwrap();
        assert_eq!(permissions.principal.as_deref(), Some("inst-1"));
        let page = <Bare as Guest>::list_users(ctx, Some("c1".into())).unwrap();
        assert_eq!(page.next_cursor.as_deref(), Some("c1+10"));
    }
}

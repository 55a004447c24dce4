//! `check`: prove that the JWT grant's token reaches all three APIs.
//!
//! - `GET {account_base_uri}/restapi/v2.1/accounts/{account_id}` (eSignature,
//!   scope `signature`): the account's name is the principal;
//! - one Admin API users page (`user_read`, with `organization_read` for the org);
//! - one Monitor event (`impersonation` on an organization with Monitor).
//!
//! A 401 anywhere is `unauthorized`; a 403 on Admin or Monitor only drops that scope
//! from the granted list, so an account without Monitor still connects (and its
//! activity scans then fail with the provider's own message).

use sluice_sdk::prelude::*;

use crate::api::{self, Api};

/// The permissions the token was shown to have.
pub fn check(ctx: &Context) -> Result<Permissions, ConnectorError> {
    let api = Api::new(ctx)?;
    let account = api.account().send()?.error_for_status()?.json_value()?;
    let mut permissions = Permissions {
        principal: json::str_at(&account, "accountName").or_else(|| config::get("user_id")),
        granted: vec!["signature".to_owned()],
        missing: Vec::new(),
    };
    let admin = api::get(api.users_first_page(1)).send()?;
    sort(
        admin,
        &["organization_read", "user_read"],
        &[
            Capability::Accounts,
            Capability::Privileges,
            Capability::Posture,
        ],
        &mut permissions,
    )?;
    let monitor = api.monitor_stream(None, 1).send()?;
    sort(
        monitor,
        &["impersonation"],
        &[
            Capability::LogonActivity,
            Capability::UserActivity,
            Capability::AdminActivity,
        ],
        &mut permissions,
    )?;
    Ok(permissions)
}

/// Records `scopes` as granted when `response` was allowed, else the capabilities
/// that need them as missing with the provider's reason.
fn sort(
    response: Response,
    scopes: &[&str],
    needing: &[Capability],
    permissions: &mut Permissions,
) -> Result<(), ConnectorError> {
    match response.error_for_status() {
        Ok(_) => permissions
            .granted
            .extend(scopes.iter().map(|s| (*s).to_owned())),
        Err(ConnectorError::Forbidden(reason)) => permissions
            .missing
            .extend(needing.iter().map(|c| (*c, reason.clone()))),
        Err(error) => return Err(error),
    }
    Ok(())
}

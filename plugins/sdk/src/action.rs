//! Response actions: one write request, and the four answers every connector gives the
//! same way.
//!
//! An action is a single write to the provider (disable a user, delete a grant), and
//! the operator must be able to trust its outcome whatever the connector:
//!
//! - `planned` for a dry run: nothing is sent, `requests` lists the write it would send;
//! - `already` when the target is in the asked-for state: found so by reading it first
//!   (nothing written, `requests` empty), or because the write answered 404 for a
//!   target that is gone (the write was sent, so it is listed);
//! - `done` once the write succeeded, listing it;
//! - an error for any other failure status.
//!
//! [`Write`] does that sequence; connectors only say which request does what, and how
//! to tell that nothing needs doing:
//!
//! ```text
//! Write::new(api.delete(url), format!("revoke grant {id}"))
//!     .gone_is_already()
//!     .perform(action.dry_run)
//! ```

use crate::bindings::sluice::connector::types::{
    Action, ActionOutcome, ActionStatus, ConnectorError,
};
use crate::http::{Request, path_segment};

impl ActionOutcome {
    /// A dry run's answer: `requests` would be sent to `what`.
    pub fn planned(what: &str, requests: Vec<String>) -> Self {
        Self {
            status: ActionStatus::Planned,
            message: format!("would {what}"),
            requests,
        }
    }

    /// The answer after `requests` were sent and did `what`.
    pub fn done(what: &str, requests: Vec<String>) -> Self {
        Self {
            status: ActionStatus::Done,
            message: format!("did {what}"),
            requests,
        }
    }

    /// Nothing needed doing, because `why`; `requests` lists what was sent anyway.
    pub fn already(why: &str, requests: Vec<String>) -> Self {
        Self {
            status: ActionStatus::Already,
            message: format!("nothing to do: {why}"),
            requests,
        }
    }
}

/// The write request that carries out an action, and what it does in words
/// (`disable user u1`) for the outcome's message.
#[derive(Debug)]
#[must_use = "a write does nothing until `.perform()`"]
pub struct Write {
    /// The request, sent at most once.
    request: Request,
    /// What it does, as in "would …" / "did …".
    what: String,
    /// Whether a 404 answer means the target is gone already.
    gone_is_already: bool,
}

impl Write {
    /// The write `request`, which does `what`.
    pub fn new(request: Request, what: impl Into<String>) -> Self {
        Self {
            request,
            what: what.into(),
            gone_is_already: false,
        }
    }

    /// A 404 answer means the target is gone, which is what a removal asked for:
    /// `already` rather than `not-found`.
    pub fn gone_is_already(mut self) -> Self {
        self.gone_is_already = true;
        self
    }

    /// Plans (in a dry run) or sends the write.
    pub fn perform(self, dry_run: bool) -> Result<ActionOutcome, ConnectorError> {
        self.perform_unless(dry_run, || Ok(None))
    }

    /// Plans (in a dry run) or sends the write, unless `current` (a read of the
    /// target, only done when not a dry run) says why nothing needs doing.
    pub fn perform_unless(
        self,
        dry_run: bool,
        current: impl FnOnce() -> Result<Option<String>, ConnectorError>,
    ) -> Result<ActionOutcome, ConnectorError> {
        let requests = vec![self.request.line()];
        if dry_run {
            return Ok(ActionOutcome::planned(&self.what, requests));
        }
        if let Some(why) = current()? {
            return Ok(ActionOutcome::already(&why, Vec::new()));
        }
        let response = self.request.send()?;
        if self.gone_is_already && response.status() == 404 {
            let why = format!(
                "the provider answered 404 Not Found to the request to {}",
                self.what
            );
            return Ok(ActionOutcome::already(&why, requests));
        }
        response.error_for_status()?;
        Ok(ActionOutcome::done(&self.what, requests))
    }
}

/// The action's target, trimmed, as one URL path segment; `other` when it cannot be
/// one (`..` and friends would aim the write at a parent resource).
pub fn target_segment(text: &str) -> Result<String, ConnectorError> {
    let text = text.trim();
    path_segment(text)
        .ok_or_else(|| ConnectorError::other(format!("`{text}` is not a valid action target")))
}

/// The value of the action's parameter `name`, trimmed; none when absent or blank.
pub fn param<'a>(action: &'a Action, name: &str) -> Option<&'a str> {
    action
        .params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// The `unsupported` error of an action kind the connector does not perform.
pub fn unsupported(connector: &str, action: &Action) -> ConnectorError {
    ConnectorError::unsupported(format!(
        "{connector} connector does not perform {:?}",
        action.kind
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{self, Response};
    use crate::testing::FakeHost;

    fn answering(status: u16) -> FakeHost {
        FakeHost::new().on_request(move |_| Ok(Response::new(status, vec![], "")))
    }

    fn delete() -> Write {
        Write::new(http::delete("https://x.test/grants/g1"), "revoke grant g1")
    }

    #[test]
    fn a_dry_run_plans_and_sends_nothing_not_even_the_read() {
        let (outcome, host) = answering(204).run(|| {
            delete()
                .perform_unless(true, || panic!("a dry run reads nothing"))
                .unwrap()
        });
        assert_eq!(outcome.status, ActionStatus::Planned);
        assert_eq!(outcome.message, "would revoke grant g1");
        assert_eq!(outcome.requests, ["DELETE https://x.test/grants/g1"]);
        assert!(host.requests().is_empty());
    }

    #[test]
    fn a_target_already_in_state_is_not_written() {
        let (outcome, host) = answering(204).run(|| {
            delete()
                .perform_unless(false, || Ok(Some("g1 is revoked".into())))
                .unwrap()
        });
        assert_eq!(outcome.status, ActionStatus::Already);
        assert_eq!(outcome.message, "nothing to do: g1 is revoked");
        assert!(outcome.requests.is_empty() && host.requests().is_empty());
    }

    #[test]
    fn sends_once_and_a_404_is_already_only_when_gone_means_done() {
        let (outcome, host) = answering(204).run(|| delete().perform(false).unwrap());
        assert_eq!(outcome.status, ActionStatus::Done);
        assert_eq!(outcome.requests, [host.requests()[0].line()]);
        let (outcome, _) = answering(404).run(|| delete().gone_is_already().perform(false));
        let outcome = outcome.unwrap();
        assert_eq!(outcome.status, ActionStatus::Already);
        assert_eq!(outcome.requests, ["DELETE https://x.test/grants/g1"]);
        let (result, _) = answering(404).run(|| delete().perform(false));
        assert!(matches!(result, Err(ConnectorError::NotFound(_))));
        let (result, _) = answering(403).run(|| delete().gone_is_already().perform(false));
        assert!(matches!(result, Err(ConnectorError::Forbidden(_))));
    }

    #[test]
    fn targets_and_params() {
        assert_eq!(target_segment(" a/b ").as_deref(), Ok("a%2Fb"));
        assert!(matches!(
            target_segment(".."),
            Err(ConnectorError::Other(_))
        ));
        let action = Action {
            kind: crate::bindings::sluice::connector::types::ActionKind::RemoveGroupMember,
            target: "g".into(),
            params: vec![
                ("member".into(), " u1 ".into()),
                ("blank".into(), " ".into()),
            ],
            reason: None,
            dry_run: false,
        };
        assert_eq!(param(&action, "member"), Some("u1"));
        assert_eq!(param(&action, "blank"), None);
        assert_eq!(param(&action, "missing"), None);
        assert!(matches!(
            unsupported("Test", &action),
            ConnectorError::Unsupported(m) if m.contains("RemoveGroupMember")
        ));
    }
}

//! Constructors for the WIT records, so connectors spell only the fields they have.
//!
//! The generated records are plain structs with every field public; a literal must
//! name all of them, which buries the two fields that matter under a dozen `None`s.
//! Each `new` here takes what the contract requires and leaves every optional field
//! empty; a connector adds the rest with struct-update syntax:
//!
//! ```text
//! User { email: json::str_at(v, "email"), ..User::new(id, json::raw(v)) }
//! ```
//!
//! [`ConfigField`] has chainable setters instead, because its optional parts are
//! flags and short strings that read better in a row.

use crate::bindings::sluice::connector::types::{
    Activity, ActivityKind, ActivityPage, AppPermission, AuthOption, AuthScheme, Capability,
    ConfigField, ConnectorInfo, File, Finding, Group, Location, Outcome, Permissions, Severity,
    Sharing, Timestamp, User, UserStatus,
};

impl ConnectorInfo {
    /// A connector with no capabilities, actions, config, auth, egress or limits yet.
    /// `version` is usually `env!("CARGO_PKG_VERSION")`.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        version: impl Into<String>,
        provider: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            version: version.into(),
            provider: provider.into(),
            description: description.into(),
            capabilities: Vec::new(),
            actions: Vec::new(),
            config: Vec::new(),
            auth: vec![AuthOption::new(
                "none",
                "No authentication",
                AuthScheme::None,
            )],
            egress: Vec::new(),
            rate_limits: Vec::new(),
            scan_writes: Vec::new(),
            max_look_back_days: None,
            activity_partitions: false,
        }
    }
}

impl AuthOption {
    /// An auth option.
    pub fn new(id: impl Into<String>, label: impl Into<String>, scheme: AuthScheme) -> Self {
        Self {
            id: id.into(),
            label: label.into(),
            scheme,
        }
    }
}

impl ConfigField {
    /// An optional, non-secret field without default, example or description.
    pub fn new(name: impl Into<String>, label: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            label: label.into(),
            required: false,
            secret: false,
            default: None,
            example: None,
            description: None,
        }
    }

    /// The operator must set it.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// A credential: the host keeps it and `config.get` never returns it.
    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    /// The value when unset (may be a template over other fields).
    pub fn default(mut self, value: impl Into<String>) -> Self {
        self.default = Some(value.into());
        self
    }

    /// An example value for operators.
    pub fn example(mut self, value: impl Into<String>) -> Self {
        self.example = Some(value.into());
        self
    }

    /// Help text for operators.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }
}

impl Permissions {
    /// Everything asked for was granted to `principal`.
    pub fn granted(principal: Option<String>, granted: Vec<String>) -> Self {
        Self {
            principal,
            granted,
            missing: Vec::new(),
        }
    }
}

impl User {
    /// An active, non-admin, internal user with nothing else known.
    pub fn new(id: impl Into<String>, raw: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            login: None,
            email: None,
            display_name: None,
            status: UserStatus::Active,
            is_admin: false,
            is_external: false,
            roles: Vec::new(),
            group_ids: Vec::new(),
            last_sign_in: None,
            created: None,
            raw: raw.into(),
        }
    }
}

impl Group {
    /// A group without description or members.
    pub fn new(id: impl Into<String>, name: impl Into<String>, raw: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            description: None,
            members: Vec::new(),
            raw: raw.into(),
        }
    }
}

impl Activity {
    /// An event with unknown actor, targets, client and outcome.
    pub fn new(
        id: impl Into<String>,
        time: Timestamp,
        kind: ActivityKind,
        action: impl Into<String>,
        raw: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            time,
            kind,
            actor: None,
            action: action.into(),
            targets: Vec::new(),
            ip: None,
            user_agent: None,
            location: None,
            session_id: None,
            outcome: Outcome::Unknown,
            raw: raw.into(),
        }
    }
}

impl Capability {
    /// Accounts, groups and who holds privileges: an identity provider's directory.
    pub const DIRECTORY: [Self; 3] = [Self::Accounts, Self::Groups, Self::Privileges];
    /// All three audit trails: sign-ins, what users did, what admins changed.
    pub const ACTIVITY: [Self; 3] = [Self::LogonActivity, Self::UserActivity, Self::AdminActivity];
}

impl ActivityKind {
    /// The kind of the first rule with a prefix that `action` starts with, else
    /// `otherwise`: how providers' dotted event types (`user.session.start`,
    /// `git.clone`) sort into the three audit trails. Rules are tried in order, so a
    /// narrower prefix listed first wins over a broader one listed later.
    pub fn by_prefix(action: &str, rules: &[(Self, &[&str])], otherwise: Self) -> Self {
        rules
            .iter()
            .find(|(_, prefixes)| prefixes.iter().any(|p| action.starts_with(p)))
            .map_or(otherwise, |(kind, _)| *kind)
    }
}

impl Outcome {
    /// `success` when the provider's result word is one of `successes`, `failure` when
    /// one of `failures` (both ignoring case), else `unknown`.
    pub fn from_word(word: Option<&str>, successes: &[&str], failures: &[&str]) -> Self {
        let is =
            |words: &[&str]| word.is_some_and(|w| words.iter().any(|x| x.eq_ignore_ascii_case(w)));
        if is(successes) {
            Self::Success
        } else if is(failures) {
            Self::Failure
        } else {
            Self::Unknown
        }
    }
}

impl Location {
    /// A location from its parts; none when the provider gave none of them.
    pub fn from_parts(
        country_code: Option<String>,
        region: Option<String>,
        city: Option<String>,
        latitude: Option<f64>,
        longitude: Option<f64>,
    ) -> Option<Self> {
        // Providers send `""` for unknown parts as often as they omit them; the WIT
        // country code is ISO 3166-1 alpha-2 and upper case, so anything else is dropped.
        let text = |part: Option<String>| part.filter(|p| !p.trim().is_empty());
        let country_code = text(country_code)
            .filter(|c| c.len() == 2 && c.chars().all(|c| c.is_ascii_alphabetic()))
            .map(|c| c.to_ascii_uppercase());
        let location = Self {
            country_code,
            region: text(region),
            city: text(city),
            latitude,
            longitude,
        };
        let empty = location.country_code.is_none()
            && location.region.is_none()
            && location.city.is_none()
            && location.latitude.is_none()
            && location.longitude.is_none();
        (!empty).then_some(location)
    }
}

impl File {
    /// A private file with nothing else known.
    pub fn new(id: impl Into<String>, name: impl Into<String>, raw: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            path: None,
            owner: None,
            mime_type: None,
            size: None,
            modified: None,
            shared_externally: false,
            public: false,
            sharing: Sharing {
                links: Vec::new(),
                principals: Vec::new(),
            },
            labels: Vec::new(),
            content_hash: None,
            raw: raw.into(),
        }
    }
}

impl AppPermission {
    /// A permission of app `app_id` with no grantee, scopes or time known.
    pub fn new(id: impl Into<String>, app_id: impl Into<String>, raw: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            app_id: app_id.into(),
            app_name: None,
            grantee: None,
            scopes: Vec::new(),
            granted_at: None,
            raw: raw.into(),
        }
    }
}

impl Finding {
    /// A finding; `detail` says what was seen, `remediation` what to do.
    pub fn new(
        id: impl Into<String>,
        title: impl Into<String>,
        severity: Severity,
        passed: bool,
        raw: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            title: title.into(),
            severity,
            passed,
            detail: String::new(),
            remediation: String::new(),
            raw: raw.into(),
        }
    }
}

impl ActivityPage {
    /// A page of activities that says whether the run should continue (`more`).
    pub fn new(items: Vec<Activity>, next_cursor: Option<String>, more: bool) -> Self {
        Self {
            items,
            next_cursor,
            more,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_prefix_in_rule_order() {
        const RULES: &[(ActivityKind, &[&str])] = &[
            (ActivityKind::Admin, &["user.session.clear"]),
            (
                ActivityKind::Logon,
                &["user.session.", "user.authentication."],
            ),
        ];
        let kind = |action| ActivityKind::by_prefix(action, RULES, ActivityKind::User);
        assert_eq!(kind("user.session.clear"), ActivityKind::Admin);
        assert_eq!(kind("user.session.start"), ActivityKind::Logon);
        assert_eq!(kind("user.account.update_password"), ActivityKind::User);
    }

    #[test]
    fn outcomes_from_result_words() {
        let outcome = |word| Outcome::from_word(word, &["success", "ALLOW"], &["failure"]);
        assert_eq!(outcome(Some("SUCCESS")), Outcome::Success);
        assert_eq!(outcome(Some("allow")), Outcome::Success);
        assert_eq!(outcome(Some("Failure")), Outcome::Failure);
        assert_eq!(outcome(Some("skipped")), Outcome::Unknown);
        assert_eq!(outcome(None), Outcome::Unknown);
    }

    #[test]
    fn location_keeps_only_what_the_provider_knew() {
        assert_eq!(
            Location::from_parts(Some(String::new()), None, None, None, None),
            None
        );
        let l = Location::from_parts(
            Some("de".into()),
            Some("".into()),
            Some("Berlin".into()),
            None,
            None,
        )
        .unwrap();
        assert_eq!(l.country_code.as_deref(), Some("DE"));
        assert_eq!((l.region, l.city.as_deref()), (None, Some("Berlin")));
        // A country name is not an ISO code; the city still counts.
        let l = Location::from_parts(
            Some("United States".into()),
            None,
            Some("Boston".into()),
            None,
            None,
        )
        .unwrap();
        assert_eq!(l.country_code, None);
    }
}

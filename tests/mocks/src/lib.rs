//! Loopback mocks of the SaaS providers Sluice connects to, shared by the integration
//! tests, the benchmarks and `sluice demo`.
//!
//! Tests never touch the internet, yet the host's paging, rate limiting, retries and
//! governance actions are only worth something if they are exercised against the
//! providers' documented behaviour. Each mock reproduces one provider's API on
//! `127.0.0.1:<ephemeral port>`: its auth check, its paging style, its rate-limit
//! headers, its 429/5xx answers on demand, and bodies in the provider's published
//! shapes, with deterministic data whose exact counts the mock can report.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use sluice_mocks::{GithubMock, GithubMockConfig};
//!
//! let github = GithubMock::start(GithubMockConfig::default()).await?;
//! // Point the GitHub connector at github.base_url() with token "ghp_mock_token",
//! // scan, then compare what was stored with github.expected().
//! assert_eq!(github.expected().users, 17);
//! # Ok(())
//! # }
//! ```
//!
//! Modules: one per provider ([`github`], [`okta`], [`docusign`], [`netdocuments`],
//! [`m365`], [`slack`], [`atlassian`], [`servicenow`], [`salesforce`], [`onelogin`], [`zoom`], [`webex`], [`dropbox`], [`box_`], [`zendesk`] (which also serves the test-only `templated` connector);
//! [`stepper`] for the test-only stepper connector); [`oauth`] (a token endpoint any provider mock mounts, with the test RSA
//! key pair for JWT grants); [`proxy`] (a forward proxy, for the outbound proxy
//! tests); `pki` (feature `pki`: a test CA and the certificates it signs); `server` (binding, serving, request log, latency), [`tls`] (HTTPS with a
//! test certificate) and `faults` (rate budgets, injected faults) are shared by every
//! mock.

pub mod atlassian;
/// Box (`box` is a Rust keyword).
pub mod box_;
pub mod docusign;
pub mod dropbox;
mod faults;
pub mod github;
pub mod google;
pub mod hostile;
pub mod m365;
pub mod netdocuments;
pub mod oauth;
pub mod okta;
pub mod onelogin;
#[cfg(feature = "pki")]
pub mod pki;
pub mod proxy;
pub mod salesforce;
mod server;
pub mod servicenow;
pub mod slack;
pub mod stepper;
pub mod tls;
pub mod webex;
pub mod zendesk;
pub mod zoom;

pub use atlassian::{AtlassianExpected, AtlassianMock, AtlassianMockConfig, EventTrail};
pub use box_::{
    BOX_CLASSIFICATION_TEMPLATE, BOX_SCOPES, BoxExpected, BoxMock, BoxMockConfig,
    QUARANTINE_FOLDER_ID,
};
pub use docusign::{
    DOCUSIGN_ACCOUNT_ID, DOCUSIGN_ORG_ID, DocusignExpected, DocusignMock, DocusignMockConfig,
};
pub use dropbox::{DROPBOX_SCOPES, DropboxExpected, DropboxMock, DropboxMockConfig};
pub use faults::Faults;
pub use github::{Expected, GITHUB_MOCK_EPOCH_MS, GithubMock, GithubMockConfig};
pub use google::{GOOGLE_SCOPES, GoogleExpected, GoogleMock, GoogleMockConfig};
pub use hostile::{EchoMock, PagesMock};
pub use m365::{M365Expected, M365Mock, M365MockConfig};
pub use netdocuments::{NetDocumentsExpected, NetDocumentsMock, NetDocumentsMockConfig};
pub use oauth::{
    Grant, JwtAcceptance, OAuthMock, OAuthMockConfig, OAuthServer, TokenFailure, TokenInfo,
    TokenRequest,
};
pub use okta::{LogKind, OKTA_MOCK_EPOCH_MS, OktaExpected, OktaMock, OktaMockConfig};
pub use onelogin::{OneLoginExpected, OneLoginMock, OneLoginMockConfig};
pub use proxy::{ForwardProxy, ForwardProxyConfig, ProxiedRequest};
pub use salesforce::{
    SALESFORCE_PERMISSIONS, SalesforceExpected, SalesforceMock, SalesforceMockConfig,
};
pub use server::RequestRecord;
pub use servicenow::{ServiceNowExpected, ServiceNowMock, ServiceNowMockConfig};
pub use slack::{AuditKind, SLACK_SCOPES, SlackExpected, SlackMock, SlackMockConfig, SlackRole};
pub use stepper::{HeldPage, StepperMock};
pub use tls::MockTls;
pub use webex::{WEBEX_SCOPES, WebexExpected, WebexMock, WebexMockConfig, spark_signature};
pub use zendesk::{ZendeskExpected, ZendeskMock, ZendeskMockConfig};
pub use zoom::{ZOOM_SCOPES, ZoomExpected, ZoomMock, ZoomMockConfig};

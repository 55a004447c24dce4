//! `sluice demo`: the daemon's main job end to end, against the built-in mock providers.
//!
//! Starts every built-in connector's mock provider on loopback (two GitHub
//! organisations, Okta, DocuSign, NetDocuments, Microsoft 365, Slack, Zendesk, Atlassian, ServiceNow, Salesforce, OneLogin, Zoom, Webex, Google Workspace) and a daemon (in this
//! process, with sled in a fresh data dir), connects one instance per mock through the
//! same operation the API uses, waits for the scheduler's first full scan of all, prints
//! what was found against what each mock holds and the status table, and keeps the daemon's API up until Ctrl-C (`--once`
//! exits after the first scan).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use sluice_mocks::oauth::TEST_RSA_PRIVATE_KEY_PKCS8_PEM;
use sluice_mocks::{AtlassianMock, AtlassianMockConfig};
use sluice_mocks::{BoxMock, BoxMockConfig};
use sluice_mocks::{
    DOCUSIGN_ACCOUNT_ID, DOCUSIGN_ORG_ID, DocusignMock, DocusignMockConfig, GithubMock,
    GithubMockConfig, M365Mock, M365MockConfig, NetDocumentsMock, NetDocumentsMockConfig, OktaMock,
    OktaMockConfig, SlackMock, SlackMockConfig, ZendeskMock, ZendeskMockConfig,
};
use sluice_mocks::{DropboxMock, DropboxMockConfig};
use sluice_mocks::{GoogleMock, GoogleMockConfig};
use sluice_mocks::{OneLoginMock, OneLoginMockConfig};
use sluice_mocks::{SalesforceMock, SalesforceMockConfig};
use sluice_mocks::{ServiceNowMock, ServiceNowMockConfig};
use sluice_mocks::{WebexMock, WebexMockConfig};
use sluice_mocks::{ZoomMock, ZoomMockConfig};

use super::output;
use super::{Env, GlobalArgs};
use sluice::control::{ActInput, ConnectInput};
use sluice::daemon::{Daemon, shutdown_signal};
use sluice::model::grants::GrantRequest;
use sluice::model::{ActionKind, Kind};
use sluice::store::{AuditFilter, RecordFilter, RecordQuery, Secret};

/// The kinds the demo summarises, in connect order.
/// The demo's sensitive file: two test card numbers (they pass Luhn; no real card).
const DEMO_CARDS: &str =
    "name,card,expires\nAna Lima,4111 1111 1111 1111,12/29\nBo Chen,5500-0000-0000-0004,01/30\n";

const SHOWN: [Kind; 5] = [
    Kind::Users,
    Kind::Groups,
    Kind::Activities,
    Kind::AppPermissions,
    Kind::Findings,
];

/// How long the first full scan may take before the demo gives up.
const FIRST_SCAN_LIMIT: Duration = Duration::from_secs(300);

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo's database here (default: a new temporary dir, kept afterwards so
    /// you can explore it with `sluice --data-dir DIR users github-acme`).
    #[arg(long = "demo-dir", value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Rows shown per kind.
    #[arg(long, default_value_t = 5)]
    pub rows: usize,
    /// Exit after the first full scan instead of serving the API until Ctrl-C.
    #[arg(long)]
    pub once: bool,
    /// Address of the demo daemon's API (default: a free loopback port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
}

pub async fn run(global: &GlobalArgs, args: DemoArgs) -> anyhow::Result<()> {
    let dir = match args.dir.or(global.data_dir.clone()) {
        Some(d) => d,
        None => tempfile::Builder::new()
            .prefix("sluice-demo-")
            .tempdir()
            .context("creating a temp dir")?
            .keep(),
    };
    let env = Env::new(&GlobalArgs {
        data_dir: Some(dir.clone()),
        ..global.clone()
    })?;

    outln!("sluice demo — data dir {}\n", dir.display());
    let daemon = Daemon::start(env.daemon_config(args.listen)).await?;
    let control = daemon.control.clone();
    let apps = start_mocks().await?;
    let mut connected = Vec::new();
    for app in apps {
        if control.store.instance(&app.name).is_ok() {
            // A rerun with --demo-dir: the old mock's port is gone, so reconnect.
            control.remove(&app.name).await?;
        }
        let done = control
            .connect(ConnectInput {
                pin: None,
                auth: None,
                look_back_days: None,
                connector: app.connector.into(),
                name: app.name.clone(),
                config: app.config.iter().cloned().collect(),
                secrets: app
                    .secrets
                    .iter()
                    .map(|(k, v)| (k.clone(), Secret::new(v.as_str())))
                    .collect(),
                allow_private_network: true,
                ca_pem: None,
                schedule: Default::default(),
                limits: Default::default(),
                // The demo's mocks are what these connectors ask to reach.
                grants: GrantRequest::all(),
            })
            .await
            .with_context(|| format!("connecting `{}`", app.name))?;
        outln!(
            "connected `{}` ({}) as {} (granted: {})",
            app.name,
            app.connector,
            done.permissions.principal.as_deref().unwrap_or("?"),
            done.permissions.granted.join(", ")
        );
        connected.push((app, done.instance));
    }

    outln!("\nthe daemon's scheduler runs the connect flow: check, users, then the rest…");
    let ids: HashSet<String> = connected.iter().map(|(_, i)| i.id.clone()).collect();
    let failures = wait_for_first_scan(&daemon, &ids).await?;

    let store = &control.store;
    outln!();
    for (app, instance) in &connected {
        let mut found = Vec::new();
        for (kind, expected) in &app.expected {
            let (n, _) = store.count(&instance.id, *kind)?;
            found.push(format!("{n} {kind} (mock: {expected})"));
        }
        outln!("`{}`: {}", instance.name, found.join(", "));
    }
    let (_, first) = &connected[0];
    for kind in SHOWN {
        let rows = store.records(
            &first.id,
            kind,
            &RecordQuery {
                limit: Some(args.rows),
                include_deleted: false,
            },
        )?;
        let (total, _) = store.count(&first.id, kind)?;
        outln!(
            "\n{} {kind} in `{}` (first {}):",
            total,
            first.name,
            rows.len()
        );
        output::records(kind, &rows, false)?;
    }
    if let Some((_, sf)) = connected.iter().find(|(a, _)| a.connector == "salesforce") {
        let filter = RecordFilter {
            shared: Some("external".into()),
            classifier: Some("card".into()),
            ..RecordFilter::default()
        };
        let found = store.query(&sf.id, Kind::Files, &filter, None, args.rows)?;
        outln!(
            "\ncontent inspection: files in `{0}` shared outside the org holding card numbers (sluice files {0} --shared external --classifier card):",
            sf.name
        );
        output::records(Kind::Files, &found.items, false)?;
    }
    outln!();
    output::instances_table(&control.instances()?).print();
    for f in &failures {
        outln!("failed: {f}");
    }

    // Governance, previewed: the connector names the exact request; nothing is sent,
    // and the preview is audited like any action.
    outln!("\ngovernance preview (dry run) on `{}`:", first.name);
    let preview = control
        .act(
            &first.name,
            ActInput {
                action: ActionKind::RemoveCollaborator,
                target: "outside-1".into(),
                params: Default::default(),
                reason: Some("demo: offboarding preview".into()),
                dry_run: true,
            },
            "demo",
        )
        .await
        .context("previewing a governance action")?;
    output::acted(&preview, false)?;
    let audit = control.audit(&AuditFilter::default(), true)?;
    if let Some(v) = &audit.verification {
        outln!(
            "audit log: {} entr{}, hash chain {}",
            v.entries,
            if v.entries == 1 { "y" } else { "ies" },
            if v.ok { "verified" } else { "BROKEN" }
        );
    }

    if args.once {
        daemon.shutdown().await?;
        if !failures.is_empty() {
            anyhow::bail!("the demo's first scan had {} failure(s)", failures.len());
        }
        outln!(
            "\nexplore: sluice --data-dir {} instances | users github-acme | activities github-acme --limit 20",
            dir.display()
        );
        return Ok(());
    }
    outln!(
        "\nadmin API on http://{addr} — try:\n  curl -H \"Authorization: Bearer $(sluice --data-dir {d} token)\" http://{addr}/v1/instances\n  sluice --data-dir {d} instances show github-acme\nthe scheduler keeps rescanning (activities every 5 minutes); Ctrl-C to stop.",
        addr = daemon.addr,
        d = dir.display()
    );
    shutdown_signal().await;
    outln!("stopping…");
    daemon.shutdown().await
}

/// One demo app instance: a mock provider on loopback and how to connect to it.
struct DemoApp {
    /// Instance name.
    name: String,
    connector: &'static str,
    config: Vec<(String, String)>,
    secrets: Vec<(String, String)>,
    /// What a complete first scan must store, per kind, by the mock's own count.
    expected: Vec<(Kind, usize)>,
    /// Keeps the mock serving for as long as the demo runs.
    _mock: Box<dyn std::any::Any + Send>,
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every built-in connector's mock provider, one instance each (GitHub twice: two
/// organisations of one app are two instances).
async fn start_mocks() -> anyhow::Result<Vec<DemoApp>> {
    let mut apps = Vec::new();
    let orgs = [
        GithubMockConfig {
            org: "acme".into(),
            token: "ghp_demo_acme".into(),
            ..Default::default()
        },
        GithubMockConfig {
            org: "globex".into(),
            token: "ghp_demo_globex".into(),
            admins: 2,
            members: 30,
            outside_collaborators: 4,
            teams: 6,
            audit_events: 420,
            two_factor_required: true,
            ..Default::default()
        },
    ];
    for cfg in orgs {
        let (org, token) = (cfg.org.clone(), cfg.token.clone());
        let mock = GithubMock::start(cfg)
            .await
            .context("starting the mock GitHub")?;
        outln!("mock GitHub for org `{org}` on {}", mock.base_url());
        let e = mock.expected();
        apps.push(DemoApp {
            name: format!("github-{org}"),
            connector: "github",
            config: pairs(&[("org", &org), ("base_url", &mock.base_url())]),
            secrets: pairs(&[("token", &token)]),
            expected: vec![
                (Kind::Users, e.users),
                (Kind::Groups, e.groups),
                (Kind::Activities, e.audit_events),
                (Kind::AppPermissions, e.app_permissions),
            ],
            _mock: Box::new(mock),
        });
    }

    let okta = OktaMock::start(OktaMockConfig::default())
        .await
        .context("starting the mock Okta")?;
    outln!("mock Okta on {}", okta.base_url());
    let e = okta.expected();
    apps.push(DemoApp {
        name: "okta-acme".into(),
        connector: "okta",
        config: pairs(&[("domain", &okta.base_url())]),
        secrets: pairs(&[("api_token", &okta.config().token)]),
        expected: vec![
            (Kind::Users, e.users),
            (Kind::Groups, e.groups),
            (Kind::Activities, e.activities),
            (Kind::AppPermissions, e.app_permissions),
        ],
        _mock: Box::new(okta),
    });

    let docusign = DocusignMock::start(DocusignMockConfig::default())
        .await
        .context("starting the mock DocuSign")?;
    outln!("mock DocuSign on {}", docusign.base_url());
    let (base, admin, c) = (
        docusign.base_url(),
        docusign.admin_url(),
        docusign.config().clone(),
    );
    let e = docusign.expected();
    apps.push(DemoApp {
        name: "docusign-acme".into(),
        connector: "docusign",
        config: pairs(&[
            ("user_id", &c.user_id),
            ("integration_key", &c.integration_key),
            ("account_base_uri", &base),
            ("account_id", DOCUSIGN_ACCOUNT_ID),
            ("organization_id", DOCUSIGN_ORG_ID),
            ("auth_url", &base),
            ("auth_audience", &c.audience),
            ("monitor_url", &base),
            ("admin_url", &admin),
        ]),
        // The mock trusts the public half of this test-only key pair.
        secrets: pairs(&[("private_key", TEST_RSA_PRIVATE_KEY_PKCS8_PEM)]),
        expected: vec![
            (Kind::Users, e.users),
            (Kind::Activities, e.events),
            (Kind::Findings, e.findings),
        ],
        _mock: Box::new(docusign),
    });

    let netdocs = NetDocumentsMock::start(NetDocumentsMockConfig::default())
        .await
        .context("starting the mock NetDocuments")?;
    outln!("mock NetDocuments on {}", netdocs.base_url());
    let c = netdocs.config().clone();
    let e = netdocs.expected();
    apps.push(DemoApp {
        name: "netdocuments-firm".into(),
        connector: "netdocuments",
        config: pairs(&[
            ("api_url", &netdocs.base_url()),
            ("repository_id", &c.repository_id),
            ("client_id", &c.client_id),
        ]),
        secrets: pairs(&[("client_secret", &c.client_secret)]),
        expected: vec![
            (Kind::Users, e.users),
            (Kind::Groups, e.groups),
            (Kind::Activities, e.admin_events + e.user_events),
            (Kind::Findings, e.findings),
        ],
        _mock: Box::new(netdocs),
    });

    let m365 = M365Mock::start(M365MockConfig::default())
        .await
        .context("starting the mock Microsoft 365")?;
    let (graph, management, c) = (
        m365.graph_url(),
        m365.management_url(),
        m365.config().clone(),
    );
    outln!("mock Microsoft 365 on {graph} (Graph, sign-in) and {management} (Management API)");
    let e = m365.expected();
    apps.push(DemoApp {
        name: "m365-contoso".into(),
        connector: "m365",
        config: pairs(&[
            ("tenant_id", &c.tenant_id),
            ("client_id", &c.client_id),
            ("login_url", &graph),
            ("graph_resource", &graph),
            ("management_resource", &management),
        ]),
        secrets: pairs(&[("client_secret", &c.client_secret)]),
        expected: vec![
            (Kind::Users, e.users),
            (Kind::Groups, e.groups),
            (
                Kind::Activities,
                e.sign_ins + e.directory_audits + e.office_events,
            ),
            (Kind::AppPermissions, e.grants),
            (Kind::Findings, e.findings),
        ],
        _mock: Box::new(m365),
    });

    let zendesk = ZendeskMock::start(ZendeskMockConfig {
        users: 40,
        agents: 6,
        custom_role_agents: 2,
        suspended_users: 3,
        groups: 4,
        members_per_group: 3,
        audit_logs: 120,
        ..Default::default()
    })
    .await
    .context("starting the mock Zendesk")?;
    outln!("mock Zendesk on {}", zendesk.base_url());
    let (base, c) = (zendesk.base_url(), zendesk.config().clone());
    let e = zendesk.expected();
    apps.push(DemoApp {
        name: "zendesk-acme".into(),
        connector: "zendesk",
        config: pairs(&[
            ("subdomain", "acme"),
            ("base_url", &base),
            ("email", &c.email),
        ]),
        secrets: pairs(&[("api_token", &c.api_token)]),
        expected: vec![
            (Kind::Users, e.users),
            (Kind::Groups, e.groups),
            (Kind::Activities, e.activities),
        ],
        _mock: Box::new(zendesk),
    });

    let slack = SlackMock::start(SlackMockConfig::default())
        .await
        .context("starting the mock Slack")?;
    outln!(
        "mock Slack on {} (Web API) and {} (Audit Logs, SCIM)",
        slack.api_url(),
        slack.base_url()
    );
    let e = slack.expected();
    apps.push(DemoApp {
        name: "slack-acme".into(),
        connector: "slack",
        config: pairs(&[
            ("api_url", &slack.api_url()),
            ("admin_api_url", &slack.base_url()),
        ]),
        secrets: pairs(&[("token", &slack.config().token)]),
        expected: vec![
            (Kind::Users, e.users),
            (Kind::Groups, e.groups),
            (Kind::Activities, e.activities),
            (Kind::AppPermissions, e.app_permissions),
        ],
        _mock: Box::new(slack),
    });

    let atlassian = AtlassianMock::start(AtlassianMockConfig {
        users: 30,
        org_admins: 2,
        unmanaged_users: 4,
        suspended_users: 2,
        groups: 5,
        members_per_group: 4,
        events: 90,
        ..Default::default()
    })
    .await
    .context("starting the mock Atlassian organization")?;
    outln!("mock Atlassian on {}", atlassian.base_url());
    let (base, c) = (atlassian.base_url(), atlassian.config().clone());
    let e = atlassian.expected();
    apps.push(DemoApp {
        name: "atlassian-acme".into(),
        connector: "atlassian",
        config: pairs(&[("org_id", &c.org_id), ("base_url", &base)]),
        secrets: pairs(&[("api_key", &c.api_key)]),
        expected: vec![
            (Kind::Users, e.users),
            (Kind::Groups, e.groups),
            (Kind::Activities, e.activities),
        ],
        _mock: Box::new(atlassian),
    });
    let servicenow = ServiceNowMock::start(ServiceNowMockConfig {
        users: 30,
        admins: 2,
        itil_users: 8,
        groups: 5,
        members_per_group: 4,
        sign_ins: 60,
        audits: 40,
        attachments: 12,
        ..Default::default()
    })
    .await
    .context("starting the mock ServiceNow")?;
    outln!("mock ServiceNow on {}", servicenow.base_url());
    let (base, c) = (servicenow.base_url(), servicenow.config().clone());
    let e = servicenow.expected();
    apps.push(DemoApp {
        name: "servicenow-acme".into(),
        connector: "servicenow",
        config: pairs(&[
            ("instance", "acme"),
            ("base_url", &base),
            ("username", &c.username),
        ]),
        secrets: pairs(&[("password", &c.password)]),
        expected: vec![
            (Kind::Users, e.users),
            (Kind::Groups, e.groups),
            (Kind::Activities, e.activities),
            (Kind::Findings, e.findings),
            (Kind::Files, e.files),
        ],
        _mock: Box::new(servicenow),
    });
    let salesforce = SalesforceMock::start(SalesforceMockConfig {
        users: 60,
        login_history: 150,
        setup_audit: 30,
        public_links: 3,
        ..Default::default()
    })
    .await
    .context("starting the mock Salesforce")?;
    outln!("mock Salesforce on {}", salesforce.base_url());
    // Someone uploads a spreadsheet of card numbers into a file shared by a public link
    // (the third document is a CSV), for content inspection to find.
    if let Some(document) = salesforce.file_ids().get(2) {
        salesforce.upload_version(document, DEMO_CARDS.as_bytes());
    }
    let (base, c) = (salesforce.base_url(), salesforce.config().clone());
    let e = salesforce.expected();
    apps.push(DemoApp {
        name: "salesforce-acme".into(),
        connector: "salesforce",
        config: pairs(&[
            ("instance_url", &base),
            ("login_url", &base),
            ("consumer_key", &c.consumer_key),
            ("username", &c.username),
        ]),
        // The mock's token endpoint trusts the public half of this test-only key pair.
        secrets: pairs(&[("private_key", TEST_RSA_PRIVATE_KEY_PKCS8_PEM)]),
        expected: vec![
            (Kind::Users, e.users),
            (Kind::Groups, e.groups),
            (Kind::Activities, e.activities),
            (Kind::AppPermissions, e.app_permissions),
            (Kind::Findings, e.findings),
            (Kind::Files, e.files),
        ],
        _mock: Box::new(salesforce),
    });
    let onelogin = OneLoginMock::start(OneLoginMockConfig {
        users: 30,
        roles: 4,
        suspended_users: 2,
        events: 90,
        ..Default::default()
    })
    .await
    .context("starting the mock OneLogin")?;
    outln!("mock OneLogin on {}", onelogin.base_url());
    let (base, c) = (onelogin.base_url(), onelogin.config().clone());
    let e = onelogin.expected();
    apps.push(DemoApp {
        name: "onelogin-acme".into(),
        connector: "onelogin",
        config: pairs(&[
            ("subdomain", "acme"),
            ("base_url", &base),
            ("client_id", &c.client_id),
        ]),
        secrets: pairs(&[("client_secret", &c.client_secret)]),
        // OneLogin's row has no groups: users (with roles) and events.
        expected: vec![(Kind::Users, e.users), (Kind::Activities, e.activities)],
        _mock: Box::new(onelogin),
    });
    let zoom = ZoomMock::start(ZoomMockConfig {
        users: 30,
        admins: 2,
        custom_role_users: 2,
        inactive_users: 2,
        pending_users: 1,
        operation_logs: 60,
        sign_ins: 90,
        secure_settings: false,
        ..Default::default()
    })
    .await
    .context("starting the mock Zoom")?;
    outln!("mock Zoom on {} (API and OAuth)", zoom.base_url());
    let (base, c) = (zoom.base_url(), zoom.config().clone());
    let e = zoom.expected();
    apps.push(DemoApp {
        name: "zoom-acme".into(),
        connector: "zoom",
        config: pairs(&[
            ("account_id", &c.account_id),
            ("client_id", &c.client_id),
            ("base_url", &base),
            ("oauth_url", &base),
        ]),
        secrets: pairs(&[("client_secret", &c.client_secret)]),
        expected: vec![
            (Kind::Users, e.users),
            (Kind::Activities, e.admin_activity + e.logon),
            (Kind::Findings, 5),
        ],
        _mock: Box::new(zoom),
    });
    let webex = WebexMock::start(WebexMockConfig {
        people: 30,
        admins: 2,
        read_only_admins: 2,
        login_disabled: 2,
        invite_pending: 1,
        groups: 4,
        admin_events: 40,
        security_events: 60,
        compliance_events: 80,
        file_messages: 12,
        deleted_file_messages: 2,
        ..Default::default()
    })
    .await
    .context("starting the mock Webex")?;
    outln!(
        "mock Webex on {} (API and token endpoint)",
        webex.base_url()
    );
    let (base, c) = (webex.base_url(), webex.config().clone());
    let e = webex.expected();
    apps.push(DemoApp {
        name: "webex-acme".into(),
        connector: "webex",
        config: pairs(&[("client_id", &c.client_id), ("base_url", &base)]),
        secrets: pairs(&[
            ("client_secret", &c.client_secret),
            ("refresh_token", &c.refresh_token),
        ]),
        expected: vec![
            (Kind::Users, e.users),
            (Kind::Groups, e.groups),
            (
                Kind::Activities,
                e.admin_activity + e.logon + e.user_activity,
            ),
            (Kind::Files, e.files),
        ],
        _mock: Box::new(webex),
    });
    let google = GoogleMock::start(GoogleMockConfig {
        users: 40,
        delegated_admins: 3,
        suspended_users: 2,
        groups: 6,
        login_events: 60,
        admin_events: 30,
        drive_events: 50,
        token_events: 10,
        files: 25,
        public_files: 3,
        external_files: 4,
        domain_files: 5,
        google_docs: 4,
        ..Default::default()
    })
    .await
    .context("starting the mock Google Workspace")?;
    outln!(
        "mock Google Workspace on {} (Admin SDK, Drive and token endpoint)",
        google.base_url()
    );
    let (base, token_url, c) = (
        google.base_url(),
        google.token_url(),
        google.config().clone(),
    );
    let e = google.expected();
    apps.push(DemoApp {
        name: "google-acme".into(),
        connector: "google",
        config: pairs(&[
            ("client_email", &c.client_email),
            ("admin_email", &c.admin_email),
            ("admin_url", &base),
            ("drive_url", &base),
            ("token_url", &token_url),
        ]),
        secrets: pairs(&[("private_key", TEST_RSA_PRIVATE_KEY_PKCS8_PEM)]),
        expected: vec![
            (Kind::Users, e.users),
            (Kind::Groups, e.groups),
            (
                Kind::Activities,
                e.admin_activity + e.logon + e.user_activity,
            ),
            (Kind::Files, e.files),
        ],
        _mock: Box::new(google),
    });
    let dropbox = DropboxMock::start(DropboxMockConfig {
        members: 20,
        admins: 2,
        suspended: 1,
        invited: 1,
        groups: 3,
        events: 60,
        files_per_member: 3,
        shared_folder_files: 4,
        external_collaborators: 1,
        public_links: 2,
        external_file_members: 1,
        ..Default::default()
    })
    .await
    .context("starting the mock Dropbox")?;
    outln!(
        "mock Dropbox on {} (API, content and token endpoint)",
        dropbox.base_url()
    );
    let (base, c) = (dropbox.base_url(), dropbox.config().clone());
    let e = dropbox.expected();
    apps.push(DemoApp {
        name: "dropbox-acme".into(),
        connector: "dropbox",
        config: pairs(&[
            ("client_id", &c.client_id),
            ("api_url", &base),
            ("content_url", &base),
        ]),
        secrets: pairs(&[
            ("client_secret", &c.client_secret),
            ("refresh_token", &c.refresh_token),
        ]),
        expected: vec![
            (Kind::Users, e.users),
            (Kind::Groups, e.groups),
            (
                Kind::Activities,
                e.admin_activity + e.logon + e.user_activity,
            ),
            (Kind::Files, e.files),
        ],
        _mock: Box::new(dropbox),
    });
    let boxed = BoxMock::start(BoxMockConfig {
        users: 20,
        coadmins: 2,
        inactive_users: 2,
        groups: 4,
        events: 80,
        event_interval_ms: 900_000,
        files_per_user: 3,
        public_links: 4,
        external_collaborations: 2,
        ..Default::default()
    })
    .await
    .context("starting the mock Box")?;
    outln!(
        "mock Box on {} (API, token endpoint and download host)",
        boxed.base_url()
    );
    let (base, c) = (boxed.base_url(), boxed.config().clone());
    let e = boxed.expected();
    apps.push(DemoApp {
        name: "box-acme".into(),
        connector: "box",
        config: pairs(&[
            ("enterprise_id", &c.enterprise_id),
            ("client_id", &c.client_id),
            ("base_url", &base),
            ("download_url", &base),
        ]),
        secrets: pairs(&[("client_secret", &c.client_secret)]),
        expected: vec![
            (Kind::Users, e.users),
            (Kind::Groups, e.groups),
            (Kind::Activities, e.activities),
            (Kind::Files, e.files),
        ],
        _mock: Box::new(boxed),
    });
    Ok(apps)
}

/// Wait until every kind of every given instance has finished its first scan (success
/// or failure). Returns the failures.
async fn wait_for_first_scan(
    daemon: &Daemon,
    ids: &HashSet<String>,
) -> anyhow::Result<Vec<String>> {
    let scheduler = daemon.scheduler();
    let deadline = tokio::time::Instant::now() + FIRST_SCAN_LIMIT;
    loop {
        let snapshot = scheduler.snapshot().await;
        let mut pending = 0;
        let mut failures = Vec::new();
        for id in ids {
            let kinds = snapshot.get(id).map(Vec::as_slice).unwrap_or_default();
            if kinds.is_empty() {
                pending += 1;
            }
            for k in kinds {
                if k.attempts > 0 {
                    let why = k
                        .last_error
                        .as_ref()
                        .map(|e| e.to_string())
                        .unwrap_or_default();
                    failures.push(format!("{id} {}: {why}", k.kind));
                } else if k.last_success.is_none() || k.running {
                    pending += 1;
                }
            }
        }
        if pending == 0 {
            return Ok(failures);
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("the first scan did not finish within {FIRST_SCAN_LIMIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

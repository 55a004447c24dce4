//! The egress policy: which destinations an instance's plugin may reach.
//!
//! Built once per instance from the connector's `describe().egress` URL templates,
//! expanded over the instance config (`https://{domain}.okta.com`), and checked on
//! every request. Private, loopback and link-local addresses (including what a public
//! name resolves to) are refused unless the operator allowed them for the instance:
//! otherwise a plugin, or a hostile `base_url`, could reach cloud metadata services or
//! the daemon's own admin API.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::Url;

use crate::model::template::{Destination, expand};

/// An operator's spelling of a destination (`api.github.com`, `https://API.github.com`)
/// in the form [`EgressPolicy::destinations`] prints, so grants compare exactly.
pub fn normalize_destination(text: &str) -> Result<String, String> {
    Destination::from_operator(text).map(|d| d.to_string())
}

/// Where an instance may send requests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    allowed: Vec<Destination>,
    /// Operator allowed private and loopback destinations for this instance.
    pub allow_private: bool,
}

impl EgressPolicy {
    /// Build the policy from a connector's templates and an instance's config.
    pub fn from_templates(
        templates: &[String],
        config: &BTreeMap<String, String>,
        allow_private: bool,
    ) -> Result<Self, String> {
        let allowed = templates
            .iter()
            .map(|t| {
                let expanded = expand(t, config).map_err(|e| format!("egress {e}"))?;
                Destination::from_url(&expanded).map_err(|e| format!("egress (from `{t}`): {e}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(EgressPolicy {
            allowed,
            allow_private,
        })
    }

    /// The allowed destinations, for display (`https://api.github.com/`). This is also
    /// the form operators grant destinations in.
    pub fn destinations(&self) -> Vec<String> {
        self.allowed.iter().map(Destination::to_string).collect()
    }

    /// Keep only the destinations in `granted` (as [`EgressPolicy::destinations`]
    /// spells them): what the connector asks for and the operator granted.
    pub fn restrict_to(mut self, granted: &[String]) -> Self {
        self.allowed
            .retain(|a| granted.iter().any(|g| *g == a.to_string()));
        self
    }

    /// Whether `url` is inside the allowlist (scheme, host, port and path prefix), and,
    /// for a literal IP host, whether that address is allowed. Names are checked again
    /// after resolution by [`ip_allowed`].
    pub fn check(&self, url: &Url) -> Result<(), String> {
        let host = url
            .host_str()
            .ok_or_else(|| format!("{url} has no host"))?
            .to_ascii_lowercase();
        if !self.allowed.iter().any(|a| a.contains(url)) {
            let port = url.port_or_known_default();
            return Err(format!(
                "{}://{}{} is outside this instance's egress allowlist ({})",
                url.scheme(),
                host,
                port.filter(|p| Some(*p) != default_port(url.scheme()))
                    .map(|p| format!(":{p}"))
                    .unwrap_or_default(),
                self.destinations().join(", ")
            ));
        }
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = literal {
            if !ip_allowed(ip, self.allow_private) {
                return Err(private_denied(ip));
            }
        } else if !self.allow_private && host == "localhost" {
            return Err("localhost is a private destination; connect with --allow-private-network to allow it".into());
        }
        Ok(())
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

pub(crate) fn private_denied(ip: IpAddr) -> String {
    format!(
        "{ip} is a private, loopback or link-local address; connect with --allow-private-network to allow it"
    )
}

/// Whether a resolved address may be contacted.
pub fn ip_allowed(ip: IpAddr, allow_private: bool) -> bool {
    allow_private || is_public(ip)
}

/// Globally routable unicast, as far as egress policy is concerned.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let seg0 = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg0 & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (seg0 & 0xffc0) == 0xfe80 // link-local fe80::/10
                || v6 == Ipv6Addr::UNSPECIFIED)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16: cloud metadata
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // CGNAT 100.64/10
        || (o[0] == 198 && (o[1] & 0xfe) == 18)) // benchmarking 198.18/15
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn templates_expand_over_config() {
        let p = EgressPolicy::from_templates(
            &["https://{domain}.okta.com".into(), "{base_url}".into()],
            &cfg(&[
                ("domain", "acme"),
                ("base_url", "https://ghe.acme.io/api/v3/"),
            ]),
            false,
        )
        .unwrap();
        assert_eq!(
            p.destinations(),
            vec!["https://acme.okta.com/", "https://ghe.acme.io/api/v3/"]
        );
        let err =
            EgressPolicy::from_templates(&["https://{domain}.okta.com".into()], &cfg(&[]), false)
                .unwrap_err();
        assert!(err.contains("`domain`"), "{err}");
    }

    #[test]
    fn only_the_allowlisted_prefix_is_reachable() {
        let p = EgressPolicy::from_templates(
            &["{base_url}".into()],
            &cfg(&[("base_url", "https://ghe.acme.io/api/v3")]),
            false,
        )
        .unwrap();
        let ok = |u: &str| p.check(&Url::parse(u).unwrap());
        assert!(ok("https://ghe.acme.io/api/v3/orgs/acme/members?page=2").is_ok());
        assert!(ok("https://ghe.acme.io/api/v3").is_ok());
        assert!(ok("https://ghe.acme.io/admin").is_err());
        assert!(ok("http://ghe.acme.io/api/v3/orgs").is_err());
        assert!(ok("https://ghe.acme.io:8443/api/v3/orgs").is_err());
        assert!(ok("https://evil.example/api/v3/orgs").is_err());
        assert!(ok("https://ghe.acme.io.evil.example/api/v3/").is_err());
    }

    #[test]
    fn private_addresses_need_the_operator() {
        let conf = cfg(&[("base_url", "http://127.0.0.1:8080")]);
        let strict = EgressPolicy::from_templates(&["{base_url}".into()], &conf, false).unwrap();
        let err = strict
            .check(&Url::parse("http://127.0.0.1:8080/x").unwrap())
            .unwrap_err();
        assert!(err.contains("--allow-private-network"), "{err}");
        let open = EgressPolicy::from_templates(&["{base_url}".into()], &conf, true).unwrap();
        assert!(
            open.check(&Url::parse("http://127.0.0.1:8080/x").unwrap())
                .is_ok()
        );
        for ip in [
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "100.64.0.1",
            "0.0.0.0",
        ] {
            assert!(
                !ip_allowed(ip.parse().unwrap(), false),
                "{ip} should be private"
            );
        }
        for ip in ["140.82.112.3", "2606:50c0:8000::154"] {
            assert!(
                ip_allowed(ip.parse().unwrap(), false),
                "{ip} should be public"
            );
        }
    }
}

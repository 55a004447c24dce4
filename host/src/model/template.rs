//! Templates over an instance's config, and the destinations they resolve to.
//!
//! A connector names config fields inside text in several places: egress destinations
//! (`https://{subdomain}.zendesk.com`), its token endpoint, scopes and audiences, and
//! rate-limit scopes. [`Template`] is the one parser for all of them, so every place
//! agrees on what a placeholder is and reports a missing field the same way.
//! [`Destination`] is where requests may go (scheme, host, port, path prefix), in the
//! one spelling grants are written and compared in.

use std::collections::BTreeMap;
use std::fmt;

use url::Url;

/// Why a template could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed `{{` in template `{0}`")]
    Unclosed(String),
    #[error("empty `{{}}` in template `{0}`")]
    Empty(String),
    /// The template names a field the config does not have.
    #[error("template `{template}` needs config field `{field}`")]
    MissingField { template: String, field: String },
}

/// One piece of a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part<'a> {
    Text(&'a str),
    Field(&'a str),
}

/// Text with `{field}` placeholders, each naming a config field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template<'a> {
    text: &'a str,
    parts: Vec<Part<'a>>,
}

impl<'a> Template<'a> {
    /// Parse `text`; an unclosed `{` or an empty `{}` is an error.
    pub fn parse(text: &'a str) -> Result<Template<'a>, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            if start > 0 {
                parts.push(Part::Text(&rest[..start]));
            }
            let len = rest[start..]
                .find('}')
                .ok_or_else(|| TemplateError::Unclosed(text.to_string()))?;
            let name = &rest[start + 1..start + len];
            if name.is_empty() {
                return Err(TemplateError::Empty(text.to_string()));
            }
            if name.contains('{') {
                return Err(TemplateError::Unclosed(text.to_string()));
            }
            parts.push(Part::Field(name));
            rest = &rest[start + len + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest));
        }
        Ok(Template { text, parts })
    }

    /// The config fields it names, in order of appearance.
    pub fn fields(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Field(name) => Some(*name),
            Part::Text(_) => None,
        })
    }

    /// Fill in every placeholder from `config`. A value's trailing `/` is dropped, so
    /// `{base_url}/users` reads the same whether or not the operator typed one.
    pub fn expand(&self, config: &BTreeMap<String, String>) -> Result<String, TemplateError> {
        let mut out = String::with_capacity(self.text.len());
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Field(name) => {
                    let value = config
                        .get(*name)
                        .ok_or_else(|| TemplateError::MissingField {
                            template: self.text.to_string(),
                            field: name.to_string(),
                        })?;
                    out.push_str(value.trim_end_matches('/'));
                }
            }
        }
        Ok(out)
    }
}

/// Parse and expand `template` over `config` in one step.
pub fn expand(template: &str, config: &BTreeMap<String, String>) -> Result<String, TemplateError> {
    Template::parse(template)?.expand(config)
}

/// Where requests may go: scheme, host, port and a path prefix. Displayed as
/// `scheme://host[:port]/path-prefix/`, the form operators grant and grants compare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    scheme: String,
    host: String,
    port: Option<u16>,
    /// Always ends in `/`.
    path: String,
}

impl Destination {
    /// The destination an (expanded) http(s) URL names; its path is a prefix.
    pub fn from_url(text: &str) -> Result<Destination, String> {
        let url = Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(format!("`{text}` must be http or https"));
        }
        let host = url
            .host_str()
            .ok_or_else(|| format!("`{text}` has no host"))?
            .to_ascii_lowercase();
        let mut path = url.path().to_string();
        if !path.ends_with('/') {
            path.push('/');
        }
        Ok(Destination {
            scheme: url.scheme().to_string(),
            host,
            port: url.port_or_known_default(),
            path,
        })
    }

    /// An operator's spelling (`api.github.com`, `https://API.github.com`): https is
    /// assumed when no scheme is given; templates are refused.
    pub fn from_operator(text: &str) -> Result<Destination, String> {
        let text = text.trim();
        if text.contains('{') {
            return Err(format!(
                "`{text}` is a template; grant the destination it resolves to"
            ));
        }
        if text.contains("://") {
            Destination::from_url(text)
        } else {
            Destination::from_url(&format!("https://{text}"))
        }
    }

    /// The host, lower-cased.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether `url` is inside: same scheme, host and port, and a path under the
    /// prefix (or the prefix itself without its trailing `/`).
    pub fn contains(&self, url: &Url) -> bool {
        let path = url.path();
        self.scheme == url.scheme()
            && url
                .host_str()
                .is_some_and(|h| h.eq_ignore_ascii_case(&self.host))
            && self.port == url.port_or_known_default()
            && (path.starts_with(&self.path)
                || (path.len() + 1 == self.path.len() && self.path.starts_with(path)))
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(p) if Some(p) != default_port(&self.scheme) => {
                write!(f, "{}://{}:{}{}", self.scheme, self.host, p, self.path)
            }
            _ => write!(f, "{}://{}{}", self.scheme, self.host, self.path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn fields_expand_and_a_missing_field_is_named() {
        let t = Template::parse("https://{subdomain}.zendesk.com/{path}").unwrap();
        assert_eq!(t.fields().collect::<Vec<_>>(), ["subdomain", "path"]);
        let c = config(&[("subdomain", "acme"), ("path", "api/v2/")]);
        assert_eq!(t.expand(&c).unwrap(), "https://acme.zendesk.com/api/v2");
        let err = t.expand(&config(&[("subdomain", "acme")]));
        assert_eq!(
            err,
            Err(TemplateError::MissingField {
                template: "https://{subdomain}.zendesk.com/{path}".into(),
                field: "path".into()
            })
        );
        assert_eq!(
            expand("{email}/token", &config(&[("email", "a@b.c")])).unwrap(),
            "a@b.c/token"
        );
    }

    #[test]
    fn malformed_templates_are_refused() {
        assert!(matches!(
            Template::parse("https://{x"),
            Err(TemplateError::Unclosed(_))
        ));
        assert!(matches!(
            Template::parse("https://{}.x"),
            Err(TemplateError::Empty(_))
        ));
        assert!(matches!(
            Template::parse("{a{b}"),
            Err(TemplateError::Unclosed(_))
        ));
        assert_eq!(Template::parse("plain").unwrap().fields().count(), 0);
    }

    #[test]
    fn destinations_normalise_and_contain_their_paths() {
        let d = Destination::from_operator("API.github.com").unwrap();
        assert_eq!(d.to_string(), "https://api.github.com/");
        let d = Destination::from_url("http://127.0.0.1:8080/oauth2/token").unwrap();
        assert_eq!(d.to_string(), "http://127.0.0.1:8080/oauth2/token/");
        assert!(d.contains(&Url::parse("http://127.0.0.1:8080/oauth2/token").unwrap()));
        assert!(d.contains(&Url::parse("http://127.0.0.1:8080/oauth2/token/x?y=1").unwrap()));
        assert!(!d.contains(&Url::parse("http://127.0.0.1:8080/oauth2/tokens").unwrap()));
        assert!(!d.contains(&Url::parse("http://127.0.0.1:8081/oauth2/token").unwrap()));
        assert!(!d.contains(&Url::parse("https://127.0.0.1:8080/oauth2/token").unwrap()));
        assert!(Destination::from_operator("https://{org}.example.com").is_err());
        assert!(Destination::from_url("ftp://x.example").is_err());
    }
}

//! Pagination: where the next page is, and how a connector remembers its place.
//!
//! Providers announce the next page in one of three ways, and each has one helper:
//!
//! - an RFC 8288 `Link` header (`rel="next"`), as GitHub, Okta and Box do:
//!   [`next_link`] (or [`links`] for every relation);
//! - a URL inside the body, like Microsoft Graph's `@odata.nextLink` or Salesforce's
//!   `nextRecordsUrl`: [`next_url_in_body`];
//! - a page number, offset or token the connector tracks itself: keep it in a
//!   `#[derive(Serialize, Deserialize)]` struct and turn that into the WIT `cursor`
//!   string with [`Cursor::encode`] / [`Cursor::decode`].
//!
//! Connectors are stateless; the host stores whatever cursor string a page returns and
//! passes it back, so everything needed to resume must be inside it. Two cursors cover
//! the common cases, so connectors do not define their own:
//!
//! - [`ListCursor`]: one list, or several walked in turn ("phases", e.g. owners, then
//!   members), each at a next URL, an opaque token or an offset ([`At`]), plus optional
//!   state computed once per run (e.g. a role map);
//! - [`FeedCursor`]: an activity feed read incrementally by time, which resumes from
//!   the provider's next page or else restarts a search at the newest event time seen,
//!   and drops the events of that boundary second that it already returned;
//! - [`FeedSet`]: several such feeds (audit trails, logs, content types) behind one
//!   cursor, read in turn, each from its own position.
//!
//! [`collect_all`] follows next links for a bounded number of pages (team members,
//! role assignments), [`array_and_next_link`] reads one `Link`-paged JSON array, and
//! [`items_and_next`] one page whose body holds both the items and the next URL or
//! token. [`phases!`](crate::phases) declares the lists a [`ListCursor`] walks.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bindings::sluice::connector::types::{Activity, ActivityPage, ConnectorError};
use crate::http::Response;

/// Every `(rel, url)` pair in the response's `Link` headers, in order.
///
/// A link with several relation types (`rel="next last"`) yields one pair per type;
/// relation types are lowercased. URLs are returned as sent (providers send absolute
/// URLs).
pub fn links(response: &Response) -> Vec<(String, String)> {
    response
        .header_values("link")
        .flat_map(parse_link_header)
        .collect()
}

/// The URL of the `rel="next"` link, if the response has one.
pub fn next_link(response: &Response) -> Option<String> {
    links(response)
        .into_iter()
        .find(|(rel, _)| rel == "next")
        .map(|(_, url)| url)
}

/// Parses one `Link` header value (RFC 8288) into `(rel, url)` pairs.
///
/// Tolerates what real providers send: extra whitespace, unquoted `rel` values, other
/// parameters, and commas or semicolons inside quoted strings.
pub fn parse_link_header(value: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        let Some(after_open) = rest.strip_prefix('<') else {
            break;
        };
        let Some(close) = after_open.find('>') else {
            break;
        };
        let url = after_open[..close].trim();
        rest = &after_open[close + 1..];

        // Parameters until the next link-value (a `,` outside quotes) or the end.
        let mut rels = Vec::new();
        loop {
            rest = rest.trim_start();
            let Some(after_semicolon) = rest.strip_prefix(';') else {
                break;
            };
            rest = after_semicolon.trim_start();
            let name_end = rest.find(['=', ';', ',']).unwrap_or(rest.len());
            let name = rest[..name_end].trim().to_ascii_lowercase();
            rest = &rest[name_end..];
            let Some(after_equals) = rest.strip_prefix('=') else {
                continue;
            };
            let (param_value, remainder) = parse_param_value(after_equals.trim_start());
            rest = remainder;
            if name == "rel" {
                rels.extend(param_value.split_whitespace().map(str::to_ascii_lowercase));
            }
        }
        pairs.extend(rels.into_iter().map(|rel| (rel, url.to_owned())));

        // Skip anything unparseable up to the next link-value.
        match rest.find(',') {
            Some(comma) if !rest.trim_start().starts_with('<') => rest = &rest[comma..],
            _ => {}
        }
    }
    pairs
}

/// A quoted-string (with `\` escapes) or token at the start of `input`, and what follows.
fn parse_param_value(input: &str) -> (String, &str) {
    if let Some(quoted) = input.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        while let Some((index, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                }
                '"' => return (value, &quoted[index + 1..]),
                _ => value.push(c),
            }
        }
        (value, "")
    } else {
        let end = input.find([';', ',']).unwrap_or(input.len());
        (input[..end].trim().to_owned(), &input[end..])
    }
}

/// The next-page URL stored in the body at JSON `pointer` (e.g. `/@odata.nextLink`);
/// none when absent, null or empty.
pub fn next_url_in_body(body: &Value, pointer: &str) -> Option<String> {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(str::to_owned)
}

/// Encodes and decodes a connector's own paging state as the opaque WIT `cursor`.
///
/// The encoding is compact JSON: readable in the host's state when debugging, and
/// stable as long as the connector's cursor struct only gains optional fields.
#[derive(Debug, Clone, Copy)]
pub struct Cursor;

impl Cursor {
    /// Turns paging state into a cursor string.
    ///
    /// # Panics
    ///
    /// If `state`'s `Serialize` impl fails, which derived impls of structs and enums
    /// never do (only maps with non-string keys or hand-written impls can): that is a
    /// bug in the connector, not a provider failure.
    pub fn encode<T: Serialize + ?Sized>(state: &T) -> String {
        serde_json::to_string(state).expect("cursor state serialises to JSON")
    }

    /// Reads paging state back from a cursor this connector produced.
    ///
    /// A cursor that does not decode (e.g. saved by an incompatible older version of the
    /// connector) is an `other` error telling the operator to restart that scan.
    pub fn decode<T: DeserializeOwned>(cursor: &str) -> Result<T, ConnectorError> {
        serde_json::from_str(cursor).map_err(|error| {
            ConnectorError::Other(format!(
                "cursor `{cursor}` is not one this connector wrote ({error}); restart the scan"
            ))
        })
    }
}

/// The items of a JSON-array body and the `rel="next"` URL: one page of a list that
/// pages with `Link` headers, as GitHub's and Okta's do.
pub fn array_and_next_link(
    response: &Response,
) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
    Ok((response.json::<Vec<Value>>()?, next_link(response)))
}

/// The items and the next page of a JSON body that holds both: the array at JSON
/// pointer `items` and the URL or token at pointer `next` (absent, null or empty when
/// there is none), e.g. Graph's `("/value", "/@odata.nextLink")` or DocuSign's
/// `("/users", "/paging/next")`. A body that is itself an array is one last page, as
/// unpaged answers are; a missing array is an empty page.
pub fn items_and_next(mut body: Value, items: &str, next: &str) -> (Vec<Value>, Option<String>) {
    if let Value::Array(all) = body {
        return (all, None);
    }
    let next = next_url_in_body(&body, next);
    let items = match body.pointer_mut(items).map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    (items, next)
}

/// Every item of a list from `first` on, following each page's next URL for at most
/// `max_pages` pages; `fetch` reads one page into its items and next URL. The flag is
/// true when pages remained, so the caller can say the list was cut short.
pub fn collect_all<T>(
    first: String,
    max_pages: usize,
    mut fetch: impl FnMut(&str) -> Result<(Vec<T>, Option<String>), ConnectorError>,
) -> Result<(Vec<T>, bool), ConnectorError> {
    let mut items = Vec::new();
    let mut url = Some(first);
    for _ in 0..max_pages {
        let Some(page) = url.take() else {
            return Ok((items, false));
        };
        let (more, next) = fetch(&page)?;
        items.extend(more);
        url = next;
    }
    Ok((items, url.is_some()))
}

/// Where in one list the next page is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum At {
    /// The next page's URL, from a `Link` header or the body.
    Url {
        /// The URL, as the provider sent it.
        url: String,
    },
    /// The provider's opaque next-page token.
    Token {
        /// The token, as the provider sent it.
        token: String,
    },
    /// An item offset or page number, as the API counts.
    Offset {
        /// The offset.
        offset: u64,
    },
    /// The list's first page, which the connector knows how to ask for.
    Start {},
}

impl At {
    /// A next URL.
    pub fn url(url: impl Into<String>) -> Self {
        Self::Url { url: url.into() }
    }

    /// A next-page token.
    pub fn token(token: impl Into<String>) -> Self {
        Self::Token {
            token: token.into(),
        }
    }

    /// An offset or page number.
    pub fn offset(offset: u64) -> Self {
        Self::Offset { offset }
    }
}

/// One of several lists a listing walks in turn, in order (a unit enum, usually).
///
/// `()` is the phase of a listing with a single list.
pub trait Phase: Copy + PartialEq + Serialize + DeserializeOwned {
    /// The list walked first.
    const FIRST: Self;
    /// The list after this one, if any.
    fn next(self) -> Option<Self>;
}

impl Phase for () {
    const FIRST: Self = ();
    fn next(self) -> Option<Self> {
        None
    }
}

/// Declares the lists a [`ListCursor`] walks, in walking order, as a unit enum that
/// implements [`Phase`] and encodes in `snake_case`:
///
/// ```text
/// sluice_sdk::phases! {
///     /// Which of the two user lists a page comes from.
///     enum Phase {
///         /// Everyone but deprovisioned users.
///         Listed,
///         /// `status eq "DEPROVISIONED"`.
///         Deprovisioned,
///     }
/// }
/// ```
///
/// The crate needs `serde` as a dependency (the derives refer to it).
#[macro_export]
macro_rules! phases {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident { $($(#[$variant_meta:meta])* $variant:ident),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq,
            $crate::prelude::Serialize, $crate::prelude::Deserialize,
        )]
        #[serde(rename_all = "snake_case")]
        $vis enum $name {
            $($(#[$variant_meta])* $variant),+
        }

        impl $crate::pagination::Phase for $name {
            const FIRST: Self = [$(Self::$variant),+][0];

            fn next(self) -> ::core::option::Option<Self> {
                let all = [$(Self::$variant),+];
                let at = all.iter().position(|phase| *phase == self)?;
                all.get(at + 1).copied()
            }
        }
    };
}

/// The cursor of a paged listing: which list ([`Phase`]), where in it ([`At`]), and
/// state worth carrying from page to page (`S`, e.g. who holds which admin role).
///
/// Encodes as compact JSON without the parts that are at their default:
/// `{"url":"…"}` for one `Link`-paged list, `{"phase":"members","url":"…"}`,
/// `{"phase":"installations"}` for the start of a later phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(
    serialize = "P: Phase, S: Serialize + Default + PartialEq",
    deserialize = "P: Phase, S: DeserializeOwned + Default"
))]
pub struct ListCursor<P = (), S = ()> {
    /// The list being walked.
    #[serde(default = "first_phase", skip_serializing_if = "is_first_phase")]
    pub phase: P,
    /// Where in it.
    #[serde(flatten)]
    pub at: At,
    /// State carried along.
    #[serde(default, skip_serializing_if = "is_default")]
    pub state: S,
}

fn first_phase<P: Phase>() -> P {
    P::FIRST
}

fn is_first_phase<P: Phase>(phase: &P) -> bool {
    *phase == P::FIRST
}

fn is_default<S: Default + PartialEq>(state: &S) -> bool {
    *state == S::default()
}

impl<P: Phase, S: Serialize + DeserializeOwned + Default + PartialEq> ListCursor<P, S> {
    /// The position a call's cursor names; the first page of the first list without one.
    pub fn resume(cursor: Option<&str>) -> Result<Self, ConnectorError> {
        match cursor {
            Some(cursor) => Cursor::decode(cursor),
            None => Ok(Self {
                phase: P::FIRST,
                at: At::Start {},
                state: S::default(),
            }),
        }
    }

    /// The URL to fetch: the stored next URL, else `first` of the current phase.
    pub fn url_or(&self, first: impl FnOnce(P) -> String) -> String {
        match &self.at {
            At::Url { url } => url.clone(),
            _ => first(self.phase),
        }
    }

    /// The stored token, if the list is past its first page.
    pub fn token(&self) -> Option<&str> {
        match &self.at {
            At::Token { token } => Some(token),
            _ => None,
        }
    }

    /// The stored offset, or `start` on the first page.
    pub fn offset_or(&self, start: u64) -> u64 {
        match self.at {
            At::Offset { offset } => offset,
            _ => start,
        }
    }

    /// Moves to the start of the next phase (e.g. when this list turns out to be
    /// empty or unavailable); false after the last.
    pub fn skip_phase(&mut self) -> bool {
        match self.phase.next() {
            Some(phase) => {
                self.phase = phase;
                self.at = At::Start {};
                true
            }
            None => false,
        }
    }

    /// The `next_cursor` after a page whose next position is `next`: the same list
    /// there, else the next list's start, else none after the last list.
    pub fn next_cursor(mut self, next: Option<At>) -> Option<String> {
        match next {
            Some(at) => self.at = at,
            None if self.skip_phase() => {}
            None => return None,
        }
        Some(Cursor::encode(&self))
    }
}

/// The position of an activity feed read incrementally by event time, as its cursor.
///
/// Feeds resume in one of two ways: while the provider hands out a next page (`next`:
/// a URL or token) by following it, and otherwise by starting a new search at the
/// newest event time seen (`ts`, in ms). Providers search in whole seconds, so such
/// a search returns the boundary second's events again; the cursor keeps the ids of
/// the events in that second it already returned (`seen`) and [`FeedCursor::advance`]
/// drops them, so a resumed scan returns each event once.
///
/// Encodes as `{"next":"…","ts":<ms>,"seen":["id",…]}` without empty parts; the
/// `{next, ts}` cursors the 0.1 GitHub and Okta connectors wrote decode as they were.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedCursor {
    /// The provider's next page of the current search, while there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// Newest event time returned so far (ms), or the host's `since` before any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<i64>,
    /// Ids of the events returned whose time is in `ts`'s second. Bounded by how
    /// many events the provider logs in one second.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seen: Vec<String>,
}

/// The whole second (in ms) a time in ms falls in.
fn second_of(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

impl FeedCursor {
    /// The position a call's cursor names; without one, a search from `since`.
    pub fn resume(cursor: Option<&str>, since: Option<i64>) -> Result<Self, ConnectorError> {
        match cursor {
            Some(cursor) => Cursor::decode(cursor),
            None => Ok(Self {
                ts: since,
                ..Self::default()
            }),
        }
    }

    /// Drops from `items` the events this feed already returned, then moves past the
    /// rest: `ts` to the newest time, `next` to the provider's next page (none when
    /// the search is done and the next call should start a new one at `ts`).
    pub fn advance(&mut self, items: &mut Vec<Activity>, next: Option<String>) {
        items.retain(|item| !self.seen.contains(&item.id));
        let newest = items.iter().map(|a| a.time).chain(self.ts).max();
        if newest.map(second_of) != self.ts.map(second_of) {
            self.seen.clear();
        }
        if let Some(newest) = newest {
            let boundary = second_of(newest);
            for item in items.iter().filter(|a| second_of(a.time) == boundary) {
                if !self.seen.contains(&item.id) {
                    self.seen.push(item.id.clone());
                }
            }
        }
        self.ts = newest;
        self.next = next;
    }

    /// The page for `items` after [`advance`](Self::advance)-ing past them; `more`
    /// says whether the run should continue now. The cursor is none only for a feed
    /// that has never seen an event nor had a `since`.
    pub fn page(
        mut self,
        mut items: Vec<Activity>,
        next: Option<String>,
        more: bool,
    ) -> ActivityPage {
        self.advance(&mut items, next);
        let cursor = (self != Self::default()).then(|| Cursor::encode(&self));
        ActivityPage::new(items, cursor, more)
    }
}

/// Several activity feeds read in turn behind one cursor: a provider's separate audit
/// trails (Graph's sign-ins and directory audits), logs (NetDocuments' admin and
/// consolidated logs) or content types, each with its own [`FeedCursor`].
///
/// Each call reads one page of one source ([`FeedSet::step`]); when that source has
/// nothing more for this run, the next call reads the next source, and after the last
/// the page says `more: false` and the following run starts again at the first. A
/// source read for the first time starts at the `since` of the run that created the
/// cursor. Sources are named by key, so one that the instance's config no longer
/// enables is skipped and keeps its position should it come back.
///
/// Encodes as `{"source":"<key>","sources":{"<key>":{…feed…}},"since":<ms>}` without
/// empty parts (the current source is left out while it is the first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedSet {
    /// The key of the source being read; none for the first enabled one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Each source's position, by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, FeedCursor>,
    /// The host's `since` on the first run: where sources not read yet start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
}

/// One source of a [`FeedSet`], as [`FeedSet::step`] hands it to the connector.
#[derive(Debug)]
pub struct Source<'a> {
    /// Its key, one of those passed to `step`.
    pub key: &'a str,
    /// Its position, for the connector to move past what it reads.
    pub feed: &'a mut FeedCursor,
    /// Never read before: a source that needs setting up (a subscription) does it now.
    pub new: bool,
}

impl FeedSet {
    /// The position a call's cursor names; without one, every source from `since`.
    pub fn resume(cursor: Option<&str>, since: Option<i64>) -> Result<Self, ConnectorError> {
        match cursor {
            Some(cursor) => Cursor::decode(cursor),
            None => Ok(Self {
                since,
                ..Self::default()
            }),
        }
    }

    /// Reads one page of the current source among `keys` (the enabled sources, in
    /// reading order) with `read`, which returns the page's events and whether the
    /// source is done for this run, and turns them into the activity page.
    ///
    /// A source done with [`FeedCursor::advance`] is done when its `next` is none.
    /// `unsupported` when `keys` is empty.
    pub fn step<K: AsRef<str>>(
        mut self,
        keys: &[K],
        read: impl FnOnce(Source<'_>) -> Result<(Vec<Activity>, bool), ConnectorError>,
    ) -> Result<ActivityPage, ConnectorError> {
        let keys: Vec<&str> = keys.iter().map(AsRef::as_ref).collect();
        if keys.is_empty() {
            return Err(ConnectorError::Unsupported(
                "no activity source is enabled for this instance".into(),
            ));
        }
        let at = self
            .source
            .as_deref()
            .and_then(|current| keys.iter().position(|key| *key == current))
            .unwrap_or(0);
        let key = keys[at];
        let stored = self.sources.remove(key);
        let new = stored.is_none();
        let mut feed = stored.unwrap_or_else(|| FeedCursor {
            ts: self.since,
            ..FeedCursor::default()
        });
        let (items, done) = read(Source {
            key,
            feed: &mut feed,
            new,
        })?;
        self.sources.insert(key.to_owned(), feed);
        let next = if done { at + 1 } else { at };
        let more = next < keys.len();
        self.source = keys
            .get(next)
            .filter(|_| next > 0)
            .map(|key| (*key).to_owned());
        Ok(ActivityPage::new(items, Some(Cursor::encode(&self)), more))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(rel, url)| ((*rel).to_owned(), (*url).to_owned()))
            .collect()
    }

    #[test]
    fn github_link_header() {
        // The example from GitHub's published `components.headers.link`.
        let value = r#"<https://api.github.com/resource?page=2>; rel="next", <https://api.github.com/resource?page=5>; rel="last""#;
        assert_eq!(
            parse_link_header(value),
            pairs(&[
                ("next", "https://api.github.com/resource?page=2"),
                ("last", "https://api.github.com/resource?page=5"),
            ])
        );
        let response = Response::new(200, vec![("Link".into(), value.into())], "[]");
        assert_eq!(
            next_link(&response).as_deref(),
            Some("https://api.github.com/resource?page=2")
        );
    }

    #[test]
    fn link_header_variants() {
        // Okta sends one `link` header per relation; cursors contain commas when encoded oddly.
        let response = Response::new(
            200,
            vec![
                (
                    "link".into(),
                    r#"<https://acme.okta.com/api/v1/users?limit=200>; rel="self""#.into(),
                ),
                (
                    "link".into(),
                    r#"<https://acme.okta.com/api/v1/users?after=a,b&limit=200>; rel="next""#
                        .into(),
                ),
            ],
            "[]",
        );
        assert_eq!(
            next_link(&response).as_deref(),
            Some("https://acme.okta.com/api/v1/users?after=a,b&limit=200")
        );
        // Several relation types, unquoted rel, extra and quoted parameters.
        assert_eq!(
            parse_link_header(
                r#"<https://x.test/2>; title="a, b; c"; rel="next last", <https://x.test/1>;rel=prev ; type=text/html"#
            ),
            pairs(&[
                ("next", "https://x.test/2"),
                ("last", "https://x.test/2"),
                ("prev", "https://x.test/1"),
            ])
        );
        assert_eq!(parse_link_header(""), vec![]);
        assert_eq!(parse_link_header("garbage"), vec![]);
        assert_eq!(next_link(&Response::new(200, vec![], "")), None);
    }

    #[test]
    fn next_url_from_body() {
        let body = serde_json::json!({
            "@odata.nextLink": "https://graph.microsoft.com/v1.0/users?$skiptoken=X",
            "value": [],
            "empty": "",
        });
        assert_eq!(
            next_url_in_body(&body, "/@odata.nextLink").as_deref(),
            Some("https://graph.microsoft.com/v1.0/users?$skiptoken=X")
        );
        assert_eq!(next_url_in_body(&body, "/empty"), None);
        assert_eq!(next_url_in_body(&body, "/missing"), None);
    }

    /// An activity at `ms` with id `id`.
    fn event(id: &str, ms: i64) -> Activity {
        use crate::bindings::sluice::connector::types::ActivityKind;
        Activity::new(id, ms, ActivityKind::Admin, "test", "{}")
    }

    fn ids(page: &ActivityPage) -> Vec<&str> {
        page.items.iter().map(|a| a.id.as_str()).collect()
    }

    #[test]
    fn a_resumed_feed_skips_the_boundary_second_events_it_returned() {
        // First run: two events in second 5 and one in second 4; the search ends.
        let first = FeedCursor::resume(None, Some(1_000)).unwrap().page(
            vec![event("a", 4_100), event("b", 5_200), event("c", 5_900)],
            None,
            false,
        );
        assert_eq!(ids(&first), ["a", "b", "c"]);
        let cursor = first.next_cursor.unwrap();
        assert_eq!(cursor, r#"{"ts":5900,"seen":["b","c"]}"#);
        // The restart searches from second 5: b and c come again with a new d, also
        // in second 5, and e later. Only d and e are new.
        let second = FeedCursor::resume(Some(&cursor), None).unwrap().page(
            vec![
                event("b", 5_200),
                event("c", 5_900),
                event("d", 5_900),
                event("e", 7_000),
            ],
            Some("https://x.test/page2".into()),
            true,
        );
        assert_eq!(ids(&second), ["d", "e"]);
        assert_eq!(
            second.next_cursor.as_deref(),
            Some(r#"{"next":"https://x.test/page2","ts":7000,"seen":["e"]}"#)
        );
        // Nothing new: the position stays, and a repeat of e is dropped.
        let cursor = second.next_cursor.unwrap();
        let third = FeedCursor::resume(Some(&cursor), None).unwrap().page(
            vec![event("e", 7_000)],
            None,
            false,
        );
        assert!(third.items.is_empty());
        assert_eq!(
            third.next_cursor.as_deref(),
            Some(r#"{"ts":7000,"seen":["e"]}"#)
        );
    }

    #[test]
    fn feed_cursors_of_the_0_1_connectors_still_decode() {
        let old = FeedCursor::resume(Some(r#"{"next":"https://x.test/2","ts":5}"#), None).unwrap();
        assert_eq!(
            (old.next.as_deref(), old.ts),
            (Some("https://x.test/2"), Some(5))
        );
        // With neither a since nor an event there is nothing to resume from.
        let page = FeedCursor::resume(None, None)
            .unwrap()
            .page(vec![], None, false);
        assert_eq!(page.next_cursor, None);
    }

    #[test]
    fn list_cursors_walk_phases_and_carry_state() {
        #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        enum Two {
            Owners,
            Members,
        }
        impl Phase for Two {
            const FIRST: Self = Self::Owners;
            fn next(self) -> Option<Self> {
                (self == Self::Owners).then_some(Self::Members)
            }
        }
        type C = ListCursor<Two, Vec<String>>;
        let mut start = C::resume(None).unwrap();
        assert_eq!(start.url_or(|p| format!("first {p:?}")), "first Owners");
        start.state = vec!["admin-1".into()];
        let next = start
            .next_cursor(Some(At::url("https://x.test/2")))
            .unwrap();
        assert_eq!(next, r#"{"url":"https://x.test/2","state":["admin-1"]}"#);
        let at_two = C::resume(Some(&next)).unwrap();
        assert_eq!(at_two.url_or(|_| unreachable!()), "https://x.test/2");
        // The owners list ends: the members list starts, state kept.
        let members = at_two.next_cursor(None).unwrap();
        assert_eq!(members, r#"{"phase":"members","state":["admin-1"]}"#);
        let members = C::resume(Some(&members)).unwrap();
        assert_eq!(members.url_or(|p| format!("first {p:?}")), "first Members");
        assert_eq!(members.next_cursor(None), None);
        // Tokens and offsets, in a single list.
        let token = ListCursor::<()>::resume(None)
            .unwrap()
            .next_cursor(Some(At::token("t1")));
        assert_eq!(token.as_deref(), Some(r#"{"token":"t1"}"#));
        let resumed = ListCursor::<()>::resume(token.as_deref()).unwrap();
        assert_eq!((resumed.token(), resumed.offset_or(0)), (Some("t1"), 0));
        let offset = ListCursor::<()>::resume(Some(r#"{"offset":3}"#)).unwrap();
        assert_eq!(offset.offset_or(1), 3);
    }

    #[test]
    fn bodies_with_items_and_next_and_bare_arrays() {
        let graph = serde_json::json!({"value": [1, 2], "@odata.nextLink": "https://x.test/2"});
        let (items, next) = items_and_next(graph, "/value", "/@odata.nextLink");
        assert_eq!(
            (items.len(), next.as_deref()),
            (2, Some("https://x.test/2"))
        );
        let nested = serde_json::json!({"users": [1], "paging": {"next": ""}});
        assert_eq!(items_and_next(nested, "/users", "/paging/next").1, None);
        let bare = serde_json::json!([1, 2, 3]);
        assert_eq!(items_and_next(bare, "/results", "/next").0.len(), 3);
        let odd = serde_json::json!({"results": {"not": "a list"}, "next": "t"});
        let (items, next) = items_and_next(odd, "/results", "/next");
        assert_eq!((items.len(), next.as_deref()), (0, Some("t")));
    }

    crate::phases! {
        /// Three lists.
        enum Three {
            /// First.
            OwnerList,
            /// Second.
            Members,
            /// Third.
            Outside,
        }
    }

    #[test]
    fn declared_phases_walk_in_order_and_encode_in_snake_case() {
        assert_eq!(Three::FIRST, Three::OwnerList);
        assert_eq!(Three::OwnerList.next(), Some(Three::Members));
        assert_eq!(Three::Members.next(), Some(Three::Outside));
        assert_eq!(Three::Outside.next(), None);
        let cursor = ListCursor::<Three>::resume(None).unwrap().next_cursor(None);
        assert_eq!(cursor.as_deref(), Some(r#"{"phase":"members"}"#));
    }

    /// Reads source `key` of `set`: `events` (id, second) and whether it is done.
    fn step(
        set: &str,
        keys: &[&str],
        events: &[(&str, i64)],
        done: bool,
    ) -> (ActivityPage, Vec<(String, bool, Option<i64>)>) {
        let mut seen = Vec::new();
        let page = FeedSet::resume(Some(set), None)
            .unwrap()
            .step(keys, |source| {
                seen.push((source.key.to_owned(), source.new, source.feed.ts));
                let mut items: Vec<Activity> =
                    events.iter().map(|(id, s)| event(id, s * 1_000)).collect();
                let next = (!done).then(|| "https://x.test/more".to_owned());
                source.feed.advance(&mut items, next);
                Ok((items, done))
            })
            .unwrap();
        (page, seen)
    }

    #[test]
    fn a_feed_set_reads_its_sources_in_turn_each_from_its_own_position() {
        let keys = ["admin", "user"];
        let start = Cursor::encode(&FeedSet::resume(None, Some(1_000)).unwrap());
        // The admin source pages once, then ends; new sources start at `since`.
        let (one, seen) = step(&start, &keys, &[("a", 2)], false);
        assert_eq!(seen, [("admin".into(), true, Some(1_000))]);
        assert!(one.more);
        let (two, seen) = step(
            one.next_cursor.as_deref().unwrap(),
            &keys,
            &[("b", 3)],
            true,
        );
        assert_eq!(seen, [("admin".into(), false, Some(2_000))]);
        assert!(two.more, "the user source is still to read");
        let (three, seen) = step(
            two.next_cursor.as_deref().unwrap(),
            &keys,
            &[("c", 9)],
            true,
        );
        assert_eq!(seen, [("user".into(), true, Some(1_000))]);
        assert!(!three.more, "the run ends after the last source");
        let cursor = three.next_cursor.unwrap();
        assert_eq!(
            cursor,
            r#"{"sources":{"admin":{"ts":3000,"seen":["b"]},"user":{"ts":9000,"seen":["c"]}},"since":1000}"#
        );
        // The next run starts over at the first source, from where it stopped, and
        // drops the boundary event it already returned.
        let (four, seen) = step(&cursor, &keys, &[("b", 3), ("d", 4)], true);
        assert_eq!(seen, [("admin".into(), false, Some(3_000))]);
        assert_eq!(
            four.items.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            ["d"]
        );
        // A source the config no longer enables is skipped, its position kept.
        let at_user = four.next_cursor.unwrap();
        let (five, seen) = step(&at_user, &["admin"], &[], true);
        assert_eq!(seen[0].0, "admin");
        assert!(five.next_cursor.unwrap().contains(r#""user":{"ts":9000"#));
        let none: [&str; 0] = [];
        let result = FeedSet::default().step(&none, |_| unreachable!());
        assert!(matches!(result, Err(ConnectorError::Unsupported(_))));
    }

    #[test]
    fn collect_all_follows_next_links_up_to_a_bound() {
        let fetch = |url: &str| -> Result<(Vec<String>, Option<String>), ConnectorError> {
            let n: u32 = url.parse().unwrap();
            Ok((vec![url.to_owned()], (n < 3).then(|| (n + 1).to_string())))
        };
        assert_eq!(
            collect_all("1".into(), 10, fetch).unwrap(),
            (vec!["1".into(), "2".into(), "3".into()], false)
        );
        assert_eq!(
            collect_all("1".into(), 2, fetch).unwrap(),
            (vec!["1".into(), "2".into()], true)
        );
    }

    #[test]
    fn cursors_round_trip_and_reject_foreign_text() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct State {
            page: u32,
            url: Option<String>,
        }
        let state = State {
            page: 3,
            url: Some("https://x.test/?a=1".into()),
        };
        let cursor = Cursor::encode(&state);
        assert_eq!(Cursor::decode::<State>(&cursor), Ok(state));
        assert!(matches!(
            Cursor::decode::<State>("page=3"),
            Err(ConnectorError::Other(m)) if m.contains("restart the scan")
        ));
    }
}

//! Values in the forms Drupal, Drush and the Spec Tool write them, read into
//! the canonical forms of the registry.
//!
//! Configuration exported from a Drupal site writes a view's path without its
//! leading slash (`admin/content/node`), a menu link as a URI
//! (`internal:/node/1`, `entity:node/1`, `route:<nolink>`), a URL alias
//! pattern without its slash (`blog/[node:title]`). These are right for
//! Drupal, so they are read, not rejected; only what Drupal itself would
//! refuse is a problem. Each normaliser is idempotent: its output, read again,
//! comes back unchanged and without a note.

use std::fmt;

/// A value in its canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalised {
    /// The canonical value.
    pub value: String,
    /// What was rewritten, in words, when a person may want to update the
    /// sheet; `None` when the value was canonical or in a form Drupal writes.
    pub note: Option<String>,
}

impl Normalised {
    fn quiet(value: String) -> Self {
        Self { value, note: None }
    }
}

/// The protocols Drupal accepts in a link (`filter_allowed_protocols`).
pub const LINK_PROTOCOLS: &[&str] = &[
    "ftp", "http", "https", "irc", "mailto", "news", "nntp", "rtsp", "sftp", "ssh", "tel",
    "telnet", "webcal",
];

/// The scheme of a URI (`https`, `internal`, `entity`), lower-cased, when it has one.
fn scheme(value: &str) -> Option<String> {
    let (head, _) = value.split_once(':')?;
    let mut chars = head.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then(|| head.to_ascii_lowercase())
}

/// Whether Drupal treats the value as a link to another site.
fn is_external(value: &str) -> bool {
    value.starts_with("//") || scheme(value).is_some_and(|s| LINK_PROTOCOLS.contains(&s.as_str()))
}

/// `value` without `prefix`, compared ignoring ASCII case.
fn strip_prefix_ignore_case<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &value[prefix.len()..])
}

/// Why a view's path is wrong for Drupal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewPathProblem {
    /// Nothing is left once the slashes are trimmed.
    Empty,
    /// A full URL: a view's page is a path on the site itself.
    External,
    /// A link target (`<front>`, `entity:node/1`, `route:...`), not a path.
    NotAPath,
    /// A `?query` or `#fragment`, which a route cannot hold.
    QueryOrFragment,
    /// The first segment is a placeholder, which Views refuses.
    PlaceholderFirst,
    /// A numeric placeholder (`%1`), which Drupal's routing refuses.
    NumericPlaceholder(String),
}

impl fmt::Display for ViewPathProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("is empty; give the page a path such as /news"),
            Self::External => {
                f.write_str("is a full URL; a view's page is a path on this site, such as /news")
            }
            Self::NotAPath => f.write_str(
                "is a link, not a path; a view's page needs a path of its own such as /news \
                 (to make it the front page, set that path as the front page in Basic site \
                 settings)",
            ),
            Self::QueryOrFragment => f.write_str(
                "holds a ? or #, which a page path cannot; use a path such as /news and an \
                 exposed filter for the query",
            ),
            Self::PlaceholderFirst => f.write_str(
                "starts with a placeholder, which Views does not allow; put a fixed segment \
                 first, e.g. /term/%",
            ),
            Self::NumericPlaceholder(segment) => write!(
                f,
                "uses the numeric placeholder {segment}, which Drupal's routing does not \
                 allow; use % or a named one such as %node"
            ),
        }
    }
}

/// Reads a view display's path: `admin/content/node` (as Drupal writes it),
/// `/admin/content/node/`, `taxonomy/term/%`, `node/{node}/events` all
/// become `/admin/content/node`, `/taxonomy/term/%`, `/node/%node/events`.
///
/// A note says so when a `{name}` placeholder, an `internal:` prefix or an
/// empty segment was rewritten; a missing or trailing slash is Drupal's own
/// form and gets none.
///
/// # Errors
/// A [`ViewPathProblem`] when Drupal would refuse the path.
pub fn view_path(raw: &str) -> Result<Normalised, ViewPathProblem> {
    let mut notes = Vec::new();
    let mut value = raw.trim();
    if let Some(rest) = strip_prefix_ignore_case(value, "internal:") {
        notes.push("internal: marks a link, and a view's path is not one".to_owned());
        value = rest.trim();
    }
    if is_external(value) {
        return Err(ViewPathProblem::External);
    }
    if value.contains(['<', '>']) || scheme(value).is_some() {
        return Err(ViewPathProblem::NotAPath);
    }
    if value.contains(['?', '#']) {
        return Err(ViewPathProblem::QueryOrFragment);
    }
    // Views trims slashes and spaces at both ends; an empty segment inside is a typo.
    let trimmed = value.trim_matches(|c: char| c == '/' || c.is_whitespace());
    let raw_segments: Vec<&str> = trimmed.split('/').collect();
    if raw_segments.iter().any(|s| s.is_empty()) && !trimmed.is_empty() {
        notes.push("an empty segment (//) is dropped".to_owned());
    }
    let mut segments = Vec::with_capacity(raw_segments.len());
    for segment in raw_segments.into_iter().filter(|s| !s.is_empty()) {
        let segment = match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => {
                let name = name.trim();
                let percent = format!("%{name}");
                notes.push(format!(
                    "Views writes the placeholder {segment} as {percent}"
                ));
                percent
            }
            None => segment.to_owned(),
        };
        if let Some(name) = segment.strip_prefix('%')
            && !name.is_empty()
            && name.chars().all(|c| c.is_ascii_digit())
        {
            return Err(ViewPathProblem::NumericPlaceholder(segment));
        }
        segments.push(segment);
    }
    match segments.first() {
        None => return Err(ViewPathProblem::Empty),
        Some(first) if first.starts_with('%') => return Err(ViewPathProblem::PlaceholderFirst),
        Some(_) => {}
    }
    let value = format!("/{}", segments.join("/"));
    let note = (!notes.is_empty()).then(|| notes.join("; "));
    Ok(Normalised { value, note })
}

/// Why a menu link target is wrong for Drupal, with the form Drupal takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkProblem {
    /// A path without its leading slash; the suggestion adds it.
    RelativePath(String),
    /// A site's address without `https://`; the suggestion adds it.
    MissingScheme(String),
    /// `internal:` followed by something other than `/`, `?` or `#`.
    InternalWithoutSlash(String),
    /// A scheme Drupal does not link to (`javascript:`, `file:`, ...).
    UnknownScheme(String),
    /// `entity:`, `route:` or `internal:` with nothing after it.
    Incomplete,
}

impl fmt::Display for LinkProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RelativePath(s) => write!(
                f,
                "is a path without its leading /; Drupal takes {s} (or internal:{s})"
            ),
            Self::MissingScheme(s) => {
                write!(
                    f,
                    "looks like another site's address; write it in full: {s}"
                )
            }
            Self::InternalWithoutSlash(s) => {
                write!(f, "must have a / after internal:, as Drupal stores it: {s}")
            }
            Self::UnknownScheme(s) => write!(
                f,
                "uses the scheme {s}:, which Drupal does not link to; use a path starting \
                 with /, a full https:// URL, entity:node/1, route:<nolink> or <front>"
            ),
            Self::Incomplete => f.write_str(
                "names no target; write e.g. entity:node/1, route:<nolink> or internal:/about",
            ),
        }
    }
}

/// The special targets of Drupal's link widget.
const SPECIAL_LINKS: &[&str] = &["<front>", "<nolink>", "<none>", "<button>"];

/// Reads a menu link target in any form Drupal's link field stores or its
/// widget accepts: `/about`, `?q`, `#top`, `<front>`, `<nolink>`,
/// `internal:/node/1`, `entity:node/1`, `route:<nolink>`, `base:robots.txt`,
/// `https://...`, `mailto:...`. Special targets are lower-cased
/// (`<Front>` -> `<front>`); everything else is kept as written.
///
/// # Errors
/// A [`LinkProblem`] when Drupal would refuse the target, with its fix.
pub fn menu_link(raw: &str) -> Result<Normalised, LinkProblem> {
    let value = raw.trim();
    if let Some(special) = SPECIAL_LINKS.iter().find(|s| s.eq_ignore_ascii_case(value)) {
        return Ok(Normalised::quiet((*special).to_owned()));
    }
    if let Some(rest) = value.strip_prefix("//") {
        return Err(LinkProblem::MissingScheme(format!("https://{rest}")));
    }
    if value.starts_with(['/', '?', '#']) {
        return Ok(Normalised::quiet(value.to_owned()));
    }
    match scheme(value).as_deref() {
        Some(s) => {
            let rest = &value[s.len() + 1..];
            match s {
                "internal" if rest.starts_with(['/', '?', '#']) => {}
                "internal" if rest.is_empty() => return Err(LinkProblem::Incomplete),
                "internal" => {
                    return Err(LinkProblem::InternalWithoutSlash(format!(
                        "internal:/{}",
                        rest.trim_start_matches('/')
                    )));
                }
                "entity" | "route" if rest.trim().is_empty() => {
                    return Err(LinkProblem::Incomplete);
                }
                "entity" | "route" | "base" => {}
                s if LINK_PROTOCOLS.contains(&s) => {}
                other => {
                    // `www.example.edu:8080/x` has no scheme; a port after a host is not one.
                    if other.contains('.') {
                        return Err(LinkProblem::MissingScheme(format!("https://{value}")));
                    }
                    return Err(LinkProblem::UnknownScheme(other.to_owned()));
                }
            }
            Ok(Normalised::quiet(value.to_owned()))
        }
        None => {
            let first = value.split('/').next().unwrap_or_default();
            let looks_like_host = first.starts_with("www.")
                || (first.contains('.')
                    && first.rsplit('.').next().is_some_and(|tld| {
                        tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic())
                    })
                    && value.contains('/'));
            if looks_like_host {
                Err(LinkProblem::MissingScheme(format!("https://{value}")))
            } else {
                Err(LinkProblem::RelativePath(format!("/{value}")))
            }
        }
    }
}

/// Reads a permission name. Drupal's permission names are exact strings,
/// written in lower case but for names they embed (`administer CAPTCHA
/// settings`): repeated spaces become one, and a name written with a capital
/// first letter, as in a sentence (`Access content`), is lower-cased, with a
/// note.
#[must_use]
pub fn permission(raw: &str) -> Normalised {
    let spaced = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    let capitalised = spaced.chars().next().is_some_and(char::is_uppercase);
    let value = if capitalised {
        spaced.to_lowercase()
    } else {
        spaced
    };
    let note = (value != raw.trim()).then(|| {
        if capitalised {
            "Drupal's permission names are exact and written in lower case".to_owned()
        } else {
            "Drupal's permission names are exact and have single spaces".to_owned()
        }
    });
    Normalised { value, note }
}

/// Why a URL alias pattern is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternProblem {
    /// A `[` without its `]`, or the other way round.
    Unbalanced,
    /// No `[token]`: every item would get the same alias.
    NoToken,
    /// Spaces outside the tokens.
    Whitespace,
}

impl fmt::Display for PatternProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unbalanced => "has unbalanced [ ] brackets",
            Self::NoToken => "has no [token], so every item would get the same alias",
            Self::Whitespace => "contains spaces outside its [tokens]",
        })
    }
}

/// Reads a Pathauto pattern: `blog/[node:title]` (as Pathauto stores it) and
/// `/blog/[node:title]` are both `/blog/[node:title]`. Spaces inside a token
/// (`[node:created:custom:F Y]`) are part of the token.
///
/// # Errors
/// A [`PatternProblem`] when the pattern cannot make distinct aliases.
pub fn url_pattern(raw: &str) -> Result<Normalised, PatternProblem> {
    let value = raw.trim();
    let (mut depth, mut tokens, mut spaced) = (0_u32, 0_u32, false);
    for c in value.chars() {
        match c {
            '[' if depth == 0 => depth = 1,
            ']' if depth == 1 => {
                depth = 0;
                tokens += 1;
            }
            '[' | ']' => return Err(PatternProblem::Unbalanced),
            c if c.is_whitespace() && depth == 0 => spaced = true,
            _ => {}
        }
    }
    if depth != 0 {
        return Err(PatternProblem::Unbalanced);
    }
    if tokens == 0 {
        return Err(PatternProblem::NoToken);
    }
    if spaced {
        return Err(PatternProblem::Whitespace);
    }
    let value = if value.starts_with('/') {
        value.to_owned()
    } else {
        format!("/{value}")
    };
    Ok(Normalised::quiet(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(raw: &str) -> Result<(String, bool), ViewPathProblem> {
        view_path(raw).map(|n| (n.value, n.note.is_some()))
    }

    #[test]
    fn view_paths_as_drupal_writes_them() {
        assert_eq!(path("node"), Ok(("/node".into(), false)));
        assert_eq!(
            path("admin/content/node"),
            Ok(("/admin/content/node".into(), false))
        );
        assert_eq!(
            path("taxonomy/term/%"),
            Ok(("/taxonomy/term/%".into(), false))
        );
        assert_eq!(
            path("taxonomy/term/%/feed"),
            Ok(("/taxonomy/term/%/feed".into(), false))
        );
        assert_eq!(path("rss.xml"), Ok(("/rss.xml".into(), false)));
        assert_eq!(path("/news/"), Ok(("/news".into(), false)));
        assert_eq!(
            path("user/%user/posts"),
            Ok(("/user/%user/posts".into(), false))
        );
    }

    #[test]
    fn view_paths_rewritten_with_a_note() {
        assert_eq!(
            path("node/{node}/events"),
            Ok(("/node/%node/events".into(), true))
        );
        assert_eq!(path("internal:/news"), Ok(("/news".into(), true)));
        assert_eq!(path("news//all"), Ok(("/news/all".into(), true)));
    }

    #[test]
    fn view_paths_drupal_refuses() {
        assert_eq!(path(""), Err(ViewPathProblem::Empty));
        assert_eq!(path("/"), Err(ViewPathProblem::Empty));
        assert_eq!(
            path("https://example.com/news"),
            Err(ViewPathProblem::External)
        );
        assert_eq!(path("//example.com"), Err(ViewPathProblem::External));
        assert_eq!(path("<front>"), Err(ViewPathProblem::NotAPath));
        assert_eq!(path("entity:node/1"), Err(ViewPathProblem::NotAPath));
        assert_eq!(
            path("news?type=event"),
            Err(ViewPathProblem::QueryOrFragment)
        );
        assert_eq!(path("%/news"), Err(ViewPathProblem::PlaceholderFirst));
        assert_eq!(path("{term}/news"), Err(ViewPathProblem::PlaceholderFirst));
        assert_eq!(
            path("news/%1"),
            Err(ViewPathProblem::NumericPlaceholder("%1".into()))
        );
    }

    #[test]
    fn menu_links_in_drupal_forms() {
        for ok in [
            "/about",
            "internal:/node/1",
            "internal:/",
            "internal:?q=1",
            "entity:node/1",
            "route:<nolink>",
            "route:entity.node.canonical;node=1",
            "base:robots.txt",
            "https://example.com",
            "HTTPS://EXAMPLE.COM",
            "mailto:a@example.com",
            "tel:+15551234",
            "#top",
            "?page=1",
            "<front>",
            "<nolink>",
        ] {
            assert_eq!(menu_link(ok), Ok(Normalised::quiet(ok.to_owned())), "{ok}");
        }
        assert_eq!(menu_link("<Front>").map(|n| n.value), Ok("<front>".into()));
    }

    #[test]
    fn menu_links_drupal_refuses() {
        assert_eq!(
            menu_link("admissions/visit"),
            Err(LinkProblem::RelativePath("/admissions/visit".into()))
        );
        assert_eq!(
            menu_link("www.example.edu/news"),
            Err(LinkProblem::MissingScheme(
                "https://www.example.edu/news".into()
            ))
        );
        assert_eq!(
            menu_link("internal:node/1"),
            Err(LinkProblem::InternalWithoutSlash("internal:/node/1".into()))
        );
        assert_eq!(
            menu_link("javascript:alert(1)"),
            Err(LinkProblem::UnknownScheme("javascript".into()))
        );
        assert_eq!(menu_link("entity:"), Err(LinkProblem::Incomplete));
    }

    #[test]
    fn permissions() {
        assert_eq!(permission("access content").note, None);
        assert_eq!(permission("administer CAPTCHA settings").note, None);
        let p = permission("Access  content ");
        assert_eq!(p.value, "access content");
        assert!(p.note.is_some());
        assert_eq!(
            permission("create  article content").value,
            "create article content"
        );
    }

    #[test]
    fn url_patterns() {
        let ok = |p: &str| url_pattern(p).map(|n| n.value);
        assert_eq!(ok("blog/[node:title]"), Ok("/blog/[node:title]".into()));
        assert_eq!(ok("/news/[node:title]"), Ok("/news/[node:title]".into()));
        assert_eq!(
            ok("events/[node:created:custom:F Y]/[node:title]"),
            Ok("/events/[node:created:custom:F Y]/[node:title]".into())
        );
        assert_eq!(ok("/about"), Err(PatternProblem::NoToken));
        assert_eq!(ok("/topics/[term:name"), Err(PatternProblem::Unbalanced));
        assert_eq!(ok("/a]b[c"), Err(PatternProblem::Unbalanced));
        assert_eq!(ok("/my news/[node:title]"), Err(PatternProblem::Whitespace));
    }
}

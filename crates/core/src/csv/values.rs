//! Cell values: booleans, numbers, lists, machine names.

/// The longest value a finding repeats back; longer values end in `…`.
const PREVIEW_CHARS: usize = 120;

/// A value shortened for display in a finding (the data itself is never cut).
#[must_use]
pub fn preview(value: &str) -> String {
    if value.chars().count() <= PREVIEW_CHARS {
        value.to_owned()
    } else {
        let mut s: String = value.chars().take(PREVIEW_CHARS).collect();
        s.push('…');
        s
    }
}

/// A cell that is not a yes/no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotABoolean;

/// Parses a boolean cell: `1/0, true/false, yes/no, y/n, x` (case-insensitive),
/// `on/off` (YAML's other booleans, which Drupal's YAML reader also takes),
/// and the check marks Drush and spreadsheets write (`✔`, `✓`, `☑` for yes,
/// `✗`, `✘`, `☐` for no). Blank is `Ok(None)`.
///
/// # Errors
/// [`NotABoolean`] for anything else.
pub fn parse_bool(value: &str) -> Result<Option<bool>, NotABoolean> {
    let v = value.trim().trim_end_matches('\u{fe0f}');
    if v.is_empty() {
        return Ok(None);
    }
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "y" | "x" | "on" | "✔" | "✓" | "☑" | "✅" => Ok(Some(true)),
        "0" | "false" | "no" | "n" | "off" | "✗" | "✘" | "☐" => Ok(Some(false)),
        _ => Err(NotABoolean),
    }
}

/// Splits a list cell on `;`, `|` or newlines; items trimmed, empty items dropped.
#[must_use]
pub fn split_list(value: &str) -> Vec<String> {
    split_on(value, &[';', '|', '\n', '\r'])
}

/// Splits on the given separators; items trimmed, empty items dropped.
#[must_use]
pub fn split_on(value: &str, separators: &[char]) -> Vec<String> {
    value
        .split(|c| separators.contains(&c))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What may start a machine name, by what Drupal itself checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameStart {
    /// A letter: module names (Drupal builds PHP function names from them).
    Letter,
    /// A letter or an underscore: field names (`FieldStorageConfig` refuses
    /// any other name, `^[_a-z]+[_a-z0-9]*$`).
    LetterOrUnderscore,
    /// Anything the name may hold: config entity ids (bundles, views,
    /// roles, image styles, workflows, menus), `^[a-z0-9_]+$` in Drupal's
    /// config schema.
    Any,
}

/// Whether Drupal accepts `value` as a machine name: lower-case letters,
/// digits and underscores (plus hyphens where `allow_hyphen` is set, for
/// menu ids), starting as `start` says.
#[must_use]
pub fn is_drupal_machine_name(value: &str, allow_hyphen: bool, start: NameStart) -> bool {
    let first_ok = value.chars().next().is_some_and(|c| match start {
        NameStart::Letter => c.is_ascii_lowercase(),
        NameStart::LetterOrUnderscore => c.is_ascii_lowercase() || c == '_',
        NameStart::Any => c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_',
    });
    first_ok
        && value.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || (allow_hyphen && c == '-')
        })
}

/// Whether a name is a machine name as this product writes them:
/// `^[a-z][a-z0-9_]*$`, plus hyphens where `allow_hyphen` is set (menu ids).
#[must_use]
pub fn is_machine_name(value: &str, allow_hyphen: bool) -> bool {
    let mut chars = value.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || (allow_hyphen && c == '-')
        })
}

/// The ASCII letters of an accented Latin letter (`é` -> `e`, `ß` -> `ss`).
fn fold_accent(c: char) -> Option<&'static str> {
    const FOLDS: &[(&str, &str)] = &[
        ("àáâãäåā", "a"),
        ("æ", "ae"),
        ("çćč", "c"),
        ("ďð", "d"),
        ("èéêëēěę", "e"),
        ("ìíîïī", "i"),
        ("ñńň", "n"),
        ("òóôõöøō", "o"),
        ("œ", "oe"),
        ("řŕ", "r"),
        ("śšş", "s"),
        ("ß", "ss"),
        ("ťţ", "t"),
        ("ùúûüūů", "u"),
        ("ýÿ", "y"),
        ("źżž", "z"),
        ("ł", "l"),
        ("þ", "th"),
    ];
    FOLDS
        .iter()
        .find(|(from, _)| from.contains(c))
        .map(|(_, to)| *to)
}

/// A machine name suggested for a label: `Field Event Date` -> `field_event_date`.
#[must_use]
pub fn suggest_machine_name(value: &str) -> String {
    let mut out = String::new();
    for c in value.trim().chars().flat_map(char::to_lowercase) {
        if let Some(plain) = fold_accent(c) {
            out.push_str(plain);
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let out = out.trim_end_matches('_').to_owned();
    match out.chars().next() {
        Some(c) if c.is_ascii_digit() => format!("n{out}"),
        _ => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans() {
        for t in [
            "1",
            "TRUE",
            "yes",
            "Y",
            "x",
            " X ",
            "On",
            "✔",
            "✔\u{fe0f}",
            "✓",
        ] {
            assert_eq!(parse_bool(t), Ok(Some(true)), "{t}");
        }
        for f in ["0", "False", "NO", "n", "OFF", "✗"] {
            assert_eq!(parse_bool(f), Ok(Some(false)), "{f}");
        }
        assert_eq!(parse_bool("  "), Ok(None));
        assert_eq!(parse_bool("maybe"), Err(NotABoolean));
    }

    #[test]
    fn lists() {
        assert_eq!(split_list("a; b|c\n d;;"), vec!["a", "b", "c", "d"]);
        assert!(split_list(" ; ").is_empty());
    }

    #[test]
    fn machine_names() {
        assert!(is_machine_name("field_event_date", false));
        assert!(!is_machine_name("Field Event Date", false));
        assert!(!is_machine_name("1field", false));
        assert!(!is_machine_name("footer-links", false));
        assert!(is_machine_name("footer-links", true));
        assert_eq!(suggest_machine_name("Field Event Date"), "field_event_date");
        assert_eq!(suggest_machine_name("  Café & bar! "), "cafe_bar");
        assert_eq!(suggest_machine_name("field_année"), "field_annee");
        assert_eq!(suggest_machine_name("2024 events"), "n2024_events");
    }

    #[test]
    fn drupal_machine_names_start_as_drupal_allows() {
        use NameStart::{Any, Letter, LetterOrUnderscore};
        // Config entity ids: `^[a-z0-9_]+$`.
        assert!(is_drupal_machine_name("2024_commencement", false, Any));
        assert!(is_drupal_machine_name("_hidden", false, Any));
        assert!(is_drupal_machine_name("footer-links", true, Any));
        assert!(!is_drupal_machine_name("News", false, Any));
        assert!(!is_drupal_machine_name("", false, Any));
        // Field names: `^[_a-z]+[_a-z0-9]*$`.
        assert!(is_drupal_machine_name(
            "_field_hidden",
            false,
            LetterOrUnderscore
        ));
        assert!(!is_drupal_machine_name("1field", false, LetterOrUnderscore));
        // Modules: a letter first.
        assert!(is_drupal_machine_name("my_module", false, Letter));
        assert!(!is_drupal_machine_name("_my_module", false, Letter));
        assert!(!is_drupal_machine_name("9lives", false, Letter));
        // What this product writes is always what Drupal takes.
        for name in ["field_event_date", "news", "a1"] {
            assert!(is_machine_name(name, false));
            for start in [Any, Letter, LetterOrUnderscore] {
                assert!(is_drupal_machine_name(name, false, start));
            }
        }
    }

    #[test]
    fn previews_are_short() {
        let long = "é".repeat(500);
        let p = preview(&long);
        assert_eq!(p.chars().count(), PREVIEW_CHARS + 1);
        assert!(p.ends_with('…'));
    }
}

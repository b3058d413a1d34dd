//! The trace ignore rules: `SW_AGENT_TRACE_IGNORE_PATH` (Ant-style path patterns) and
//! `SW_AGENT_IGNORE_SUFFIX` (suffixes), applied by the HTTP server integrations to the
//! request path before a trace's first span opens. An ignored request gets no span and
//! runs in an unsampled context, so the spans its handler opens record nothing either.
//!
//! # Patterns
//!
//! A pattern and a path are compared segment by segment (split on `/`):
//!
//! | in a pattern | matches |
//! |---|---|
//! | `**` (a whole segment) | zero or more segments: `/static/**` matches `/static`, `/static/`, `/static/a/b.css` |
//! | `*` | zero or more characters inside one segment: `/api/*/ping` matches `/api/v1/ping`, not `/api/v1/x/ping` |
//! | `?` | exactly one character inside one segment, never `/` |
//! | anything else | itself, case-sensitively |
//!
//! A trailing `/` is a (empty) segment of its own: `/health` does not match `/health/`.
//! The query string is never part of the path.
//!
//! # Suffixes
//!
//! A path is ignored when it ends with one of the suffixes, compared ASCII
//! case-insensitively (`/logo.PNG` ends with `.png`). The Java agent compares the text
//! from the last `.` exactly; comparing the end of the path also lets multi-dot suffixes
//! such as `.tar.gz` work. The default list is
//! [`DEFAULT_IGNORE_SUFFIX`](crate::Config::DEFAULT_IGNORE_SUFFIX).

use std::str::Chars;

/// Whether the running agent's rules ignore a request to `path` (no query string).
/// `false` when no agent runs.
pub(crate) fn is_ignored(path: &str) -> bool {
    match crate::settings::ignore_rules().as_deref() {
        Some(rules) => is_ignored_by(path, &rules.paths, &rules.suffixes),
        None => false,
    }
}

/// Whether `path` matches one of `patterns` or ends with one of `suffixes`.
pub(crate) fn is_ignored_by<P, S>(path: &str, patterns: &[P], suffixes: &[S]) -> bool
where
    P: AsRef<str>,
    S: AsRef<str>,
{
    has_ignored_suffix(path, suffixes) || patterns.iter().any(|p| path_matches(p.as_ref(), path))
}

/// Whether `path` ends with one of `suffixes` (ASCII case-insensitively). Empty suffixes
/// are skipped.
pub(crate) fn has_ignored_suffix<S: AsRef<str>>(path: &str, suffixes: &[S]) -> bool {
    let path = path.as_bytes();
    // Most request paths (`/users/7`) have no `.` near their end, and most suffixes
    // (the default list's `.jpg`, `.css`, ...) start with one: such a suffix can only
    // match a path with a `.` within the suffix's length of its end. One scan of the
    // path spares the case-insensitive comparison of every suffix.
    let dot_from_end = path.iter().rev().position(|&b| b == b'.');
    suffixes.iter().any(|suffix| {
        let suffix = suffix.as_ref().as_bytes();
        let possible = match suffix.first() {
            None => false,
            Some(b'.') => dot_from_end.is_some_and(|d| d < suffix.len()),
            Some(_) => true,
        };
        possible
            && path.len() >= suffix.len()
            && path[path.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    })
}

/// Whether `path` matches the Ant-style `pattern` (see the module docs).
///
/// Both levels use the classic greedy wildcard walk: on a mismatch, the most recent
/// wildcard takes one more item and matching resumes after it. Remembering only the
/// latest wildcard is enough because a later wildcard can absorb whatever an earlier one
/// would have, so the walk needs no allocation or recursion. A pattern without wildcards
/// is a plain comparison.
pub(crate) fn path_matches(pattern: &str, path: &str) -> bool {
    if !pattern.bytes().any(|b| b == b'*' || b == b'?') {
        return pattern == path;
    }
    let mut pattern_rest = Segments::new(pattern);
    let mut path_rest = Segments::new(path);
    // After the latest `**`: the pattern following it and the path it resumes from.
    let mut retry: Option<(Segments<'_>, Segments<'_>)> = None;
    loop {
        let mut pattern_next = pattern_rest;
        match pattern_next.next() {
            Some("**") => {
                pattern_rest = pattern_next;
                retry = Some((pattern_rest, path_rest));
                continue;
            }
            Some(segment_pattern) => {
                let mut path_next = path_rest;
                if let Some(segment) = path_next.next()
                    && segment_matches(segment_pattern, segment)
                {
                    pattern_rest = pattern_next;
                    path_rest = path_next;
                    continue;
                }
            }
            None => {
                if path_rest.is_empty() {
                    return true;
                }
            }
        }
        let Some((after_wildcard, resume)) = &mut retry else {
            return false;
        };
        if resume.next().is_none() {
            return false;
        }
        pattern_rest = *after_wildcard;
        path_rest = *resume;
    }
}

/// The `/`-separated segments of a path, as `str::split('/')` yields them, but `Copy`
/// (a cursor to save and restore) and without a pattern searcher to set up.
#[derive(Clone, Copy)]
struct Segments<'a> {
    /// What is left; `None` once the last segment has been yielded.
    rest: Option<&'a str>,
}

impl<'a> Segments<'a> {
    fn new(s: &'a str) -> Self {
        Segments { rest: Some(s) }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_none()
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        match rest.bytes().position(|b| b == b'/') {
            Some(slash) => {
                self.rest = Some(&rest[slash + 1..]);
                Some(&rest[..slash])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// Whether one path segment matches one pattern segment (`*`, `?`, literals).
fn segment_matches(pattern: &str, segment: &str) -> bool {
    if !pattern.bytes().any(|b| b == b'*' || b == b'?') {
        return pattern == segment;
    }
    let mut pattern_rest: Chars<'_> = pattern.chars();
    let mut segment_rest: Chars<'_> = segment.chars();
    let mut retry: Option<(Chars<'_>, Chars<'_>)> = None;
    loop {
        let mut pattern_next = pattern_rest.clone();
        match pattern_next.next() {
            Some('*') => {
                pattern_rest = pattern_next;
                retry = Some((pattern_rest.clone(), segment_rest.clone()));
                continue;
            }
            Some(expected) => {
                let mut segment_next = segment_rest.clone();
                if let Some(c) = segment_next.next()
                    && (expected == '?' || expected == c)
                {
                    pattern_rest = pattern_next;
                    segment_rest = segment_next;
                    continue;
                }
            }
            None => {
                if segment_rest.as_str().is_empty() {
                    return true;
                }
            }
        }
        let Some((after_wildcard, resume)) = &mut retry else {
            return false;
        };
        if resume.next().is_none() {
            return false;
        }
        pattern_rest = after_wildcard.clone();
        segment_rest = resume.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn literal_paths() {
        assert!(path_matches("/health", "/health"));
        assert!(!path_matches("/health", "/health/"));
        assert!(!path_matches("/health", "/healthz"));
        assert!(!path_matches("/health", "/Health"));
        assert!(!path_matches("/health", "/api/health"));
        assert!(path_matches("", ""));
        assert!(!path_matches("", "/"));
    }

    #[test]
    fn double_star_spans_segments() {
        assert!(path_matches("/static/**", "/static"));
        assert!(path_matches("/static/**", "/static/"));
        assert!(path_matches("/static/**", "/static/app.js"));
        assert!(path_matches("/static/**", "/static/a/b/c.css"));
        assert!(!path_matches("/static/**", "/statics/a"));
        assert!(!path_matches("/static/**", "/api/static/a"));
        assert!(path_matches("/**/ping", "/ping"));
        assert!(path_matches("/**/ping", "/a/b/ping"));
        assert!(!path_matches("/**/ping", "/a/b/ping/x"));
        assert!(path_matches("/a/**/b/**/c", "/a/x/b/y/z/c"));
        assert!(path_matches("/a/**/b/**/c", "/a/b/c"));
        assert!(!path_matches("/a/**/b/**/c", "/a/c/b"));
        assert!(path_matches("**", "/anything/at/all"));
        assert!(path_matches("/**", "/"));
    }

    #[test]
    fn single_star_and_question_mark_stay_in_a_segment() {
        assert!(path_matches("/api/*/ping", "/api/v1/ping"));
        assert!(path_matches("/api/*/ping", "/api//ping"));
        assert!(!path_matches("/api/*/ping", "/api/v1/x/ping"));
        assert!(path_matches("/api/v?/ping", "/api/v2/ping"));
        assert!(!path_matches("/api/v?/ping", "/api/v/ping"));
        assert!(!path_matches("/api/v?/ping", "/api/v10/ping"));
        assert!(!path_matches("/a?b", "/a/b"));
        assert!(path_matches("/files/*.png", "/files/logo.png"));
        assert!(!path_matches("/files/*.png", "/files/logo.png/x"));
        assert!(path_matches("/*/*", "/a/b"));
        assert!(path_matches("/a*b*c", "/abbbc"));
        assert!(path_matches("/a*b*c", "/abc"));
        assert!(!path_matches("/a*b*c", "/acb"));
        assert!(path_matches("/é?", "/éü"));
    }

    #[test]
    fn suffixes() {
        let suffixes = crate::Config::DEFAULT_IGNORE_SUFFIX
            .split(',')
            .collect::<Vec<_>>();
        assert!(has_ignored_suffix("/img/logo.png", &suffixes));
        assert!(has_ignored_suffix("/img/logo.PNG", &suffixes));
        assert!(has_ignored_suffix("/app.js", &suffixes));
        assert!(!has_ignored_suffix("/app.json", &suffixes));
        assert!(!has_ignored_suffix("/users/7", &suffixes));
        assert!(!has_ignored_suffix("/x", &[""]));
        assert!(has_ignored_suffix("/a.tar.gz", &[".tar.gz"]));
        assert!(!has_ignored_suffix("g", &[".jpg"]));
        assert!(
            !has_ignored_suffix("/é", &["\u{a9}"]),
            "byte-wise, never splits a char"
        );
    }

    #[test]
    fn rules_combine() {
        let patterns = ["/health", "/static/**"];
        let suffixes = [".css"];
        assert!(is_ignored_by("/health", &patterns, &suffixes));
        assert!(is_ignored_by("/static/x", &patterns, &suffixes));
        assert!(is_ignored_by("/a/b.css", &patterns, &suffixes));
        assert!(!is_ignored_by("/users/7", &patterns, &suffixes));
        assert!(!is_ignored_by::<&str, &str>("/health", &[], &[]));
    }

    /// A direct recursive reading of the rules, exponential but obviously right.
    fn reference(pattern: &[&str], path: &[&str]) -> bool {
        match pattern.split_first() {
            None => path.is_empty(),
            Some((&"**", rest)) => (0..=path.len()).any(|skip| reference(rest, &path[skip..])),
            Some((segment, rest)) => match path.split_first() {
                Some((first, path_rest)) => {
                    reference_segment(segment.as_bytes(), first.as_bytes())
                        && reference(rest, path_rest)
                }
                None => false,
            },
        }
    }

    fn reference_segment(pattern: &[u8], text: &[u8]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some((b'*', rest)) => {
                (0..=text.len()).any(|skip| reference_segment(rest, &text[skip..]))
            }
            Some((&c, rest)) => match text.split_first() {
                Some((&t, text_rest)) => {
                    (c == b'?' || c == t) && reference_segment(rest, text_rest)
                }
                None => false,
            },
        }
    }

    proptest! {
        #[test]
        fn agrees_with_the_reference(pattern in "[ab*?/]{0,12}", path in "[ab/]{0,12}") {
            let p: Vec<&str> = pattern.split('/').collect();
            let s: Vec<&str> = path.split('/').collect();
            prop_assert_eq!(path_matches(&pattern, &path), reference(&p, &s));
        }

        #[test]
        fn a_literal_matches_itself_only(path in "(/[a-z0-9.]{0,6}){0,5}", other in "(/[a-z0-9.]{0,6}){0,5}") {
            prop_assert!(path_matches(&path, &path));
            prop_assert_eq!(path_matches(&path, &other), path == other);
        }

        #[test]
        fn a_prefix_with_double_star_matches_everything_below(
            prefix in "(/[a-z]{1,5}){0,3}",
            rest in "(/[a-z.]{0,5}){0,4}",
        ) {
            let pattern = format!("{prefix}/**");
            let path = format!("{prefix}{rest}");
            prop_assert!(path_matches(&pattern, &path));
        }

        #[test]
        fn segments_split_like_str_split(s in "[a/]{0,10}") {
            prop_assert_eq!(Segments::new(&s).collect::<Vec<_>>(), s.split('/').collect::<Vec<_>>());
        }

        #[test]
        fn any_input_is_safe(pattern in "\\PC{0,40}", path in "\\PC{0,40}", suffix in "\\PC{0,4}") {
            let _ = path_matches(&pattern, &path);
            let _ = has_ignored_suffix(&path, &[suffix.as_str()]);
        }

        #[test]
        fn suffix_is_ends_with_ignoring_ascii_case(path in "[a-zA-Z./]{0,12}", suffix in "[a-zA-Z.]{1,4}") {
            let expected = path.to_ascii_lowercase().ends_with(&suffix.to_ascii_lowercase());
            prop_assert_eq!(has_ignored_suffix(&path, &[suffix.as_str()]), expected);
        }
    }
}

//! `.dockerignore` patterns: parsing and matching as the docker CLI and daemons do it.
//!
//! One pattern a line; `#` starts a comment line; surrounding whitespace is trimmed; a leading `/`
//! is dropped; `!` makes an exception; the last matching pattern decides. `*` and `?` stay inside one
//! path segment, `**` as a whole segment matches any number of segments, and a pattern that matches
//! a directory excludes everything under it.

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IgnorePattern {
    pub exception: bool,
    pub segments: Vec<String>,
}

pub fn parse_dockerignore(text: &str) -> Vec<IgnorePattern> {
    let mut patterns = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (exception, body) = match line.strip_prefix('!') {
            Some(rest) => (true, rest.trim()),
            None => (false, line),
        };
        let segments: Vec<String> = body
            .split('/')
            .filter(|s| !s.is_empty() && *s != ".")
            .map(str::to_string)
            .collect();
        if segments.is_empty() {
            continue;
        }
        patterns.push(IgnorePattern {
            exception,
            segments,
        });
    }
    patterns
}

/// Whether `path` (normalised, relative) is excluded by `patterns`.
pub fn is_ignored(patterns: &[IgnorePattern], path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').collect();
    let mut ignored = false;
    for pattern in patterns {
        // A pattern matches the path itself or any of its parent directories.
        let matched =
            (1..=segments.len()).any(|n| match_segments(&pattern.segments, &segments[..n]));
        if matched {
            ignored = !pattern.exception;
        }
    }
    ignored
}

fn match_segments(pattern: &[String], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| match_segments(rest, &path[skip..]))
        }
        Some((first, rest)) => match path.split_first() {
            Some((head, tail)) => {
                glob_segment(first.as_bytes(), head.as_bytes()) && match_segments(rest, tail)
            }
            None => false,
        },
    }
}

/// `*`, `?` and `[...]` within one path segment (no `/` can occur here); COPY source globs use it too.
pub(crate) fn glob_segment(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| glob_segment(rest, &text[skip..])),
        Some((b'?', rest)) => !text.is_empty() && glob_segment(rest, &text[1..]),
        Some((b'[', rest)) => {
            let Some(close) = rest.iter().position(|&c| c == b']') else {
                return text.first() == Some(&b'[') && glob_segment(rest, &text[1..]);
            };
            let Some((&c, text_rest)) = text.split_first() else {
                return false;
            };
            let (negate, class) = match rest[..close].split_first() {
                Some((b'^', class)) | Some((b'!', class)) => (true, class),
                _ => (false, &rest[..close]),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == b'-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != negate && glob_segment(&rest[close + 1..], text_rest)
        }
        Some((b'\\', rest)) if !rest.is_empty() => {
            text.first() == Some(&rest[0]) && glob_segment(&rest[1..], &text[1..])
        }
        Some((&p, rest)) => text.first() == Some(&p) && glob_segment(rest, &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ignore: &str, path: &str, expected: bool) {
        let patterns = parse_dockerignore(ignore);
        assert_eq!(
            is_ignored(&patterns, path),
            expected,
            "pattern {ignore:?} on {path:?}"
        );
    }

    #[test]
    fn plain_names_and_directories() {
        check("foo", "foo", true);
        check("foo", "foo/bar", true);
        check("foo", "bar/foo", false);
        check("/foo/", "foo/x", true);
        check("# foo", "foo", false);
    }

    #[test]
    fn globs_stay_in_one_segment() {
        check("*.txt", "a.txt", true);
        check("*.txt", "d/a.txt", false);
        check("*/a.txt", "d/a.txt", true);
        check("a?", "ab", true);
        check("a?", "a/b", false);
        check("[a-c]x", "bx", true);
        check("[!a-c]x", "bx", false);
    }

    #[test]
    fn double_star_spans_segments() {
        check("**/a.txt", "a.txt", true);
        check("**/a.txt", "x/y/a.txt", true);
        check("d/**", "d/x/y", true);
        check("d/**/z", "d/z", true);
    }

    #[test]
    fn last_match_wins_and_exceptions_reinclude() {
        check("*\n!keep", "keep", false);
        check("*\n!keep", "other", true);
        check("!keep\n*", "keep", true);
    }
}

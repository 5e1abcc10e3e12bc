//! Shell patterns for `${V#p}`-style trimming and `${V/p/r}` substitution (`expand.rs`): BuildKit's
//! (`*`, `?`, the escape character) and imagebuilder's (`path.Match`), and each lexer's loops.

/// One element of a pattern: any run, one character, a set (imagebuilder's `[...]`), a literal.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Pat {
    Star,
    One,
    Set(Vec<char>, bool),
    Lit(char),
}

/// BuildKit's pattern: `*`, `?`, the escape character quoting the next one; `[` is literal.
pub(super) fn buildkit_pattern(pattern: &str, escape: char) -> Vec<Pat> {
    let mut out = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        out.push(match c {
            '*' => Pat::Star,
            '?' => Pat::One,
            c if c == escape => match chars.next() {
                Some(n) => Pat::Lit(n),
                None => Pat::Lit(c),
            },
            c => Pat::Lit(c),
        });
    }
    out
}

/// `path.Match`'s pattern: `*` (not across `/`), `?`, `[set]`, `\` quoting.
pub(super) fn path_pattern(pattern: &str) -> Vec<Pat> {
    let mut out = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(match c {
            '*' => Pat::Star,
            '?' => Pat::One,
            '\\' => Pat::Lit(chars.next().unwrap_or('\\')),
            '[' => {
                let negated = chars.next_if(|c| *c == '^').is_some();
                let mut set = Vec::new();
                for s in chars.by_ref() {
                    if s == ']' {
                        break;
                    }
                    set.push(s);
                }
                Pat::Set(set, negated)
            }
            c => Pat::Lit(c),
        });
    }
    out
}

/// Whether `pattern` matches all of `text`; `star_slash`: `*` matches `/` too.
fn matches(pattern: &[Pat], text: &[char], star_slash: bool) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((Pat::Star, rest)) => (0..=text.len())
            .take_while(|&i| i == 0 || star_slash || text[i - 1] != '/')
            .any(|i| matches(rest, &text[i..], star_slash)),
        Some((p, rest)) => {
            let Some((c, tail)) = text.split_first() else {
                return false;
            };
            let ok = match p {
                Pat::One => star_slash || *c != '/',
                Pat::Lit(l) => l == c,
                Pat::Set(set, negated) => set_contains(set, *c) != *negated,
                Pat::Star => unreachable!(),
            };
            ok && matches(rest, tail, star_slash)
        }
    }
}

fn set_contains(set: &[char], c: char) -> bool {
    let mut i = 0;
    while i < set.len() {
        if i + 2 < set.len() && set[i + 1] == '-' {
            if set[i] <= c && c <= set[i + 2] {
                return true;
            }
            i += 3;
        } else {
            if set[i] == c {
                return true;
            }
            i += 1;
        }
    }
    false
}

/// BuildKit's `#`/`##` (`prefix`) and `%`/`%%`: the shortest (or, greedy, longest) matching
/// prefix or suffix is removed.
pub(super) fn trim(value: &str, pattern: &[Pat], greedy: bool, prefix: bool) -> String {
    let chars: Vec<char> = value.chars().collect();
    let n = chars.len();
    let mut lengths: Vec<usize> = (0..=n).collect();
    if greedy {
        lengths.reverse();
    }
    for k in lengths {
        let part = if prefix { &chars[..k] } else { &chars[n - k..] };
        if matches(pattern, part, true) {
            let kept = if prefix { &chars[k..] } else { &chars[..n - k] };
            return kept.iter().collect();
        }
    }
    value.to_string()
}

/// imagebuilder's trim, its loops as written: `#` never removes the whole value, and the
/// non-greedy `#` and greedy `%` never look at the last character alone.
pub(super) fn trim_imagebuilder(
    value: &str,
    pattern: &[Pat],
    greedy: bool,
    prefix: bool,
) -> String {
    let chars: Vec<char> = value.chars().collect();
    let n = chars.len() as isize;
    let candidates: Vec<isize> = match (prefix, greedy) {
        (true, true) | (false, false) => (0..n).rev().collect(),
        (true, false) | (false, true) => (0..n - 1).collect(),
    };
    for i in candidates {
        let i = i as usize;
        let (part, kept) = match prefix {
            true => (&chars[..i], &chars[i..]),
            false => (&chars[i..], &chars[..i]),
        };
        if matches(pattern, part, false) {
            return kept.iter().collect();
        }
    }
    value.to_string()
}

/// BuildKit's `/` and `//`: the leftmost, longest match (every one, with `//`).
pub(super) fn replace_buildkit(
    value: &str,
    pattern: &str,
    replacement: &str,
    all: bool,
    escape: char,
) -> String {
    let pattern = buildkit_pattern(pattern, escape);
    let replacement: String = {
        let mut out = String::new();
        let mut chars = replacement.chars();
        while let Some(c) = chars.next() {
            match c {
                c if c == escape => out.push(chars.next().unwrap_or(c)),
                c => out.push(c),
            }
        }
        out
    };
    let chars: Vec<char> = value.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut replaced = false;
    while i <= chars.len() {
        let found = match replaced && !all {
            true => None,
            false => (i..=chars.len())
                .rev()
                .find(|&j| matches(&pattern, &chars[i..j], true)),
        };
        match found {
            Some(j) => {
                out.push_str(&replacement);
                replaced = true;
                if j == i {
                    if let Some(c) = chars.get(i) {
                        out.push(*c);
                    }
                    i += 1;
                } else {
                    i = j;
                }
            }
            None => {
                if let Some(c) = chars.get(i) {
                    out.push(*c);
                }
                i += 1;
            }
        }
    }
    out
}

/// imagebuilder's `/`, `//`, `/#`, `/%`, its loop as written.
pub(super) fn replace_imagebuilder(
    value: &str,
    pattern: &[Pat],
    replacement: &str,
    (all, begin, end): (bool, bool, bool),
) -> String {
    let mut value: Vec<char> = value.chars().collect();
    let replacement: Vec<char> = replacement.chars().collect();
    let mut i: isize = 0;
    while (i as usize) < value.len() {
        let at = i as usize;
        for j in (at + 1..=value.len()).rev() {
            if (begin && at != 0) || (end && j != value.len()) {
                continue;
            }
            if matches(pattern, &value[at..j], false) {
                value.splice(at..j, replacement.iter().copied());
                if !all {
                    return value.into_iter().collect();
                }
                i += replacement.len() as isize - 1;
                break;
            }
        }
        i += 1;
    }
    value.into_iter().collect()
}

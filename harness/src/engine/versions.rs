//! Engine versions and version ranges, for recorded divergences (`[[divergence]] versions`) and
//! the known catalogue (`[[known]] versions`): a divergence seen on one engine generation says
//! nothing about another, so each entry names the versions it holds for.
//!
//! A version is its dotted numbers (`20.10.24`, `v0.13.2`, `5.8.6`); what follows them is a
//! distribution's or build's suffix and is ignored (`20.10.24+dfsg1`, `0.13.1+ds1`, `28.5.2-1`).
//! A range is comparators joined by commas, all of which must hold: `>=20.10, <23`, `>26`,
//! `<=4.3.1`, `=4.3.1`; a bare version is its release line (`20.10` is every `20.10.x`, `4.3.1`
//! is `4.3.1` and any `4.3.1.x`). Missing components count as 0 when comparing (`23` = `23.0.0`).
//! The range applies to the engine's own (daemon's) version: the first word of what
//! `engine::version` reports (`20.10.24+dfsg1 buildx 0.13.1+ds1` is `20.10.24`).

use std::cmp::Ordering;

/// A dotted numeric version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version(Vec<u64>);

impl Version {
    /// The version at the start of `text` (a leading `v` allowed; any suffix after the numbers
    /// ignored), or `None` when it does not start with a number.
    pub fn parse(text: &str) -> Option<Version> {
        let text = text.trim();
        let text = text.strip_prefix('v').unwrap_or(text);
        let end = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let numbers = text[..end].trim_end_matches('.');
        if numbers.is_empty() {
            return None;
        }
        numbers
            .split('.')
            .map(|n| n.parse::<u64>().ok())
            .collect::<Option<Vec<_>>>()
            .map(Version)
    }

    /// The engine's own version in what `engine::version` reports: its first word.
    pub fn of_engine(reported: &str) -> Option<Version> {
        Version::parse(reported.split_whitespace().next().unwrap_or(""))
    }

    pub fn major(&self) -> u64 {
        self.0.first().copied().unwrap_or(0)
    }

    fn component(&self, i: usize) -> u64 {
        self.0.get(i).copied().unwrap_or(0)
    }

    /// Compared component by component, missing ones as 0.
    fn compare(&self, other: &Version) -> Ordering {
        let len = self.0.len().max(other.0.len());
        (0..len)
            .map(|i| self.component(i).cmp(&other.component(i)))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    }

    /// Whether `self` starts with every component of `line` (`20.10.24` is in line `20.10`).
    fn in_line(&self, line: &Version) -> bool {
        line.0
            .iter()
            .enumerate()
            .all(|(i, n)| self.0.get(i) == Some(n))
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let words: Vec<String> = self.0.iter().map(u64::to_string).collect();
        f.write_str(&words.join("."))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
    /// A bare version: its release line.
    Line,
}

/// Versions an entry holds for: every comparator must hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionRange {
    text: String,
    comparators: Vec<(Op, Version)>,
}

impl VersionRange {
    /// Parses `>=20.10, <23` and the like; the error says which comparator is wrong and why.
    pub fn parse(text: &str) -> Result<VersionRange, String> {
        let mut comparators = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            let (op, rest) = [
                (">=", Op::Ge),
                ("<=", Op::Le),
                (">", Op::Gt),
                ("<", Op::Lt),
                ("=", Op::Eq),
            ]
            .iter()
            .find_map(|(s, op)| part.strip_prefix(s).map(|rest| (*op, rest.trim())))
            .unwrap_or((Op::Line, part));
            let exact = rest.strip_prefix('v').unwrap_or(rest);
            let valid = !exact.is_empty()
                && exact
                    .split('.')
                    .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            let version = Version::parse(exact).filter(|_| valid).ok_or_else(|| {
                format!(
                    "versions `{text}`: `{part}` is not a comparator (>=, >, <=, <, =) and a dotted version such as `>=20.10` or `4.3`"
                )
            })?;
            comparators.push((op, version));
        }
        Ok(VersionRange {
            text: text.trim().to_string(),
            comparators,
        })
    }

    /// Whether the version at the start of `version` is in the range; a version that does not
    /// parse is in no range.
    pub fn contains(&self, version: &str) -> bool {
        let Some(v) = Version::parse(version) else {
            return false;
        };
        self.contains_version(&v)
    }

    pub fn contains_version(&self, v: &Version) -> bool {
        self.comparators.iter().all(|(op, bound)| {
            let o = v.compare(bound);
            match op {
                Op::Ge => o != Ordering::Less,
                Op::Gt => o == Ordering::Greater,
                Op::Le => o != Ordering::Greater,
                Op::Lt => o == Ordering::Less,
                Op::Eq => o == Ordering::Equal,
                Op::Line => v.in_line(bound),
            }
        })
    }

    /// Whether the engine whose `engine::version` report this is runs a version in the range.
    pub fn contains_engine(&self, reported: &str) -> bool {
        Version::of_engine(reported).is_some_and(|v| self.contains_version(&v))
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for VersionRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for VersionRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        VersionRange::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for VersionRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_ignore_distribution_suffixes_and_a_leading_v() {
        assert_eq!(
            Version::parse("20.10.24+dfsg1").unwrap().to_string(),
            "20.10.24"
        );
        assert_eq!(Version::parse("v0.13.2").unwrap().to_string(), "0.13.2");
        assert_eq!(
            Version::parse("28.5.2-1~deb13").unwrap().to_string(),
            "28.5.2"
        );
        assert_eq!(
            Version::of_engine("20.10.24+dfsg1 buildx 0.13.1+ds1")
                .unwrap()
                .to_string(),
            "20.10.24"
        );
        assert!(Version::parse("unknown").is_none());
        assert_eq!(Version::parse("26.1.5").unwrap().major(), 26);
    }

    #[test]
    fn ranges_compare_component_by_component() {
        let r = VersionRange::parse(">=20.10, <23").unwrap();
        assert!(r.contains("20.10.24+dfsg1"));
        assert!(r.contains("22.06"));
        assert!(!r.contains("23.0.0"));
        assert!(!r.contains("26.1.5+dfsg1"));
        assert!(!r.contains("20.9.9"));
        assert!(VersionRange::parse(">26").unwrap().contains("26.0.1"));
        assert!(!VersionRange::parse(">26").unwrap().contains("26"));
        assert!(VersionRange::parse("<=4.3.1").unwrap().contains("4.3.1"));
        assert!(VersionRange::parse("=4.3.1").unwrap().contains("4.3.1"));
        assert!(!VersionRange::parse("=4.3.1").unwrap().contains("4.3.10"));
        assert!(!r.contains("garbage"));
    }

    #[test]
    fn a_bare_version_is_its_release_line() {
        let line = VersionRange::parse("20.10").unwrap();
        assert!(line.contains("20.10.24+dfsg1"));
        assert!(line.contains("20.10"));
        assert!(!line.contains("20.1.0"));
        assert!(!line.contains("26.1.5"));
        assert!(VersionRange::parse("4.3.1").unwrap().contains("4.3.1"));
        assert!(!VersionRange::parse("4.3.1").unwrap().contains("4.3.2"));
        assert!(VersionRange::parse("28.5")
            .unwrap()
            .contains_engine("28.5.2+dfsg4 buildx 0.29.1"));
    }

    #[test]
    fn bad_ranges_say_what_is_wrong() {
        for bad in ["", ">=", "~>1.2", ">=20.10,", "20.x", "1..2", ">= 1.2+dfsg"] {
            let e = VersionRange::parse(bad).expect_err(bad);
            assert!(e.contains("is not a comparator"), "{bad}: {e}");
        }
    }
}

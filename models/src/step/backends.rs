//! Cache backends: where a build sends its cache (`--cache-to`) and where it may take cache from
//! (`--cache-from`), written as buildx writes them: comma-separated `key=value` pairs,
//! `type=registry,ref=NAME,mode=max`, `type=local,dest=DIR`, `type=inline`; a value with no `=`
//! is an image reference (`--cache-from NAME`, which is `type=registry,ref=NAME`).
//!
//! A backend is a *place*: the registry reference or the local directory. What one build exports
//! there another imports, so the model keys exports by `CacheSpec::place`.

use std::collections::BTreeMap;

/// The kinds of backend cachet models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Backend {
    /// A registry reference: a cache manifest (`--cache-to type=registry`) or an image with inline
    /// cache (`--cache-from NAME` reads either).
    Registry,
    /// An OCI layout in a directory on the client's machine.
    Local,
    /// The cache records ride in the image's config (`BUILDKIT_INLINE_CACHE=1`).
    Inline,
}

/// Which records an export holds (buildx's `mode`; `min` unless said).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    /// The result's own steps, with their layers (BuildKit's `CacheExportModeMin`).
    #[default]
    Min,
    /// Every step of every stage the build solved, with its layer (`CacheExportModeMax`).
    Max,
}

/// One `--cache-to` or `--cache-from` value, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheSpec {
    pub backend: Backend,
    /// The registry reference, or the directory (`dest` when exporting, `src` when importing);
    /// empty for inline.
    pub place: String,
    pub mode: Mode,
    /// `ignore-error=true`: an export that fails does not fail the build.
    pub ignore_error: bool,
}

impl CacheSpec {
    /// The key exports are kept under: what an importer names to find them.
    pub fn key(&self) -> String {
        match self.backend {
            Backend::Registry => self.place.clone(),
            Backend::Local => format!("local:{}", self.place),
            Backend::Inline => String::new(),
        }
    }
}

/// Parses a `--cache-to` value (`exporting`) or a `--cache-from` value.
pub fn parse(value: &str, exporting: bool) -> Result<CacheSpec, String> {
    if !value.contains('=') {
        return if exporting {
            Err(format!(
                "`--cache-to {value}`: a cache export names its type (`type=registry,ref={value}`)"
            ))
        } else {
            Ok(CacheSpec {
                backend: Backend::Registry,
                place: value.to_string(),
                mode: Mode::Min,
                ignore_error: false,
            })
        };
    }
    let mut fields = BTreeMap::new();
    for pair in value.split(',') {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("`{value}`: `{pair}` is not key=value"))?;
        if fields.insert(k.trim(), v.trim()).is_some() {
            return Err(format!("`{value}`: `{k}` given twice"));
        }
    }
    let backend = match fields.remove("type") {
        Some("registry") => Backend::Registry,
        Some("local") => Backend::Local,
        Some("inline") => Backend::Inline,
        Some(other) => {
            return Err(format!(
                "`{value}`: cache type `{other}` is not modelled (registry, local, inline)"
            ))
        }
        None => return Err(format!("`{value}`: no `type=`")),
    };
    let place_key = match (backend, exporting) {
        (Backend::Registry, _) => Some("ref"),
        (Backend::Local, true) => Some("dest"),
        (Backend::Local, false) => Some("src"),
        (Backend::Inline, _) => None,
    };
    let place = match place_key {
        Some(k) => fields
            .remove(k)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| format!("`{value}`: no `{k}=`"))?
            .to_string(),
        None => String::new(),
    };
    let mode = match fields.remove("mode") {
        None | Some("min") => Mode::Min,
        Some("max") => Mode::Max,
        Some(other) => return Err(format!("`{value}`: mode `{other}` is neither min nor max")),
    };
    let ignore_error = match fields.remove("ignore-error") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(format!(
                "`{value}`: ignore-error `{other}` is neither true nor false"
            ))
        }
    };
    if let Some(k) = fields.keys().next() {
        return Err(format!("`{value}`: `{k}` is not modelled"));
    }
    Ok(CacheSpec {
        backend,
        place,
        mode,
        ignore_error,
    })
}

/// `value` with its place (the reference, or the directory) rewritten by `map`: how the harness
/// gives each scenario its own registry names and directories. A value that does not parse is
/// returned as it is.
pub fn map_place(value: &str, exporting: bool, map: &dyn Fn(Backend, &str) -> String) -> String {
    let Ok(spec) = parse(value, exporting) else {
        return value.to_string();
    };
    if spec.backend == Backend::Inline {
        return value.to_string();
    }
    if !value.contains('=') {
        return map(spec.backend, value);
    }
    value
        .split(',')
        .map(|pair| match pair.split_once('=') {
            Some((k @ ("ref" | "dest" | "src"), v)) => {
                format!("{k}={}", map(spec.backend, v.trim()))
            }
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(value: &str, exporting: bool, expect: &str) {
        let got = match parse(value, exporting) {
            Ok(s) => format!(
                "{:?} {} {:?} ignore-error={} key={}",
                s.backend,
                s.place,
                s.mode,
                s.ignore_error,
                s.key()
            ),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expect, "{value}");
    }

    #[test]
    fn specs_parse_as_buildx_writes_them() {
        check("app", false, "Registry app Min ignore-error=false key=app");
        check(
            "app",
            true,
            "error: `--cache-to app`: a cache export names its type (`type=registry,ref=app`)",
        );
        check(
            "type=registry,ref=r/c,mode=max",
            true,
            "Registry r/c Max ignore-error=false key=r/c",
        );
        check(
            "type=registry,ref=r/c",
            false,
            "Registry r/c Min ignore-error=false key=r/c",
        );
        check(
            "type=local,dest=d,mode=max,ignore-error=true",
            true,
            "Local d Max ignore-error=true key=local:d",
        );
        check(
            "type=local,src=d",
            false,
            "Local d Min ignore-error=false key=local:d",
        );
        check(
            "type=local,dest=d",
            false,
            "error: `type=local,dest=d`: no `src=`",
        );
        check("type=inline", true, "Inline  Min ignore-error=false key=");
        check(
            "type=gha",
            true,
            "error: `type=gha`: cache type `gha` is not modelled (registry, local, inline)",
        );
        check(
            "type=registry,ref=x,mode=all",
            true,
            "error: `type=registry,ref=x,mode=all`: mode `all` is neither min nor max",
        );
        check(
            "type=registry,ref=x,compression=zstd",
            true,
            "error: `type=registry,ref=x,compression=zstd`: `compression` is not modelled",
        );
    }

    #[test]
    fn places_are_rewritten_and_nothing_else() {
        let map = |b: Backend, p: &str| format!("{b:?}:{p}");
        assert_eq!(map_place("app", false, &map), "Registry:app");
        assert_eq!(
            map_place("type=registry,ref=c,mode=max", true, &map),
            "type=registry,ref=Registry:c,mode=max"
        );
        assert_eq!(
            map_place("type=local,src=d", false, &map),
            "type=local,src=Local:d"
        );
        assert_eq!(map_place("type=inline", true, &map), "type=inline");
    }
}

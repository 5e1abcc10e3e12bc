//! The docker CLI's own words: a failed build's error message, and the CLI's and the buildx
//! plugin's versions.

/// The error a failed CLI build reports: its last words. BuildKit's plain progress ends with one
/// line starting `error:` or `ERROR:`, the classic stream with the failing step's message.
pub fn cli_failure_message(log: &str) -> String {
    log.lines()
        .rev()
        .find(|l| l.trim_start().to_ascii_lowercase().starts_with("error"))
        .or_else(|| log.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or("build failed")
        .to_string()
}

/// The plugin's version in `docker buildx version` output: its second word
/// (`github.com/docker/buildx 0.13.1+ds1 0.13.1+ds1-3` gives `0.13.1+ds1`).
pub fn buildx_version_word(text: &str) -> String {
    text.split_whitespace()
        .nth(1)
        .unwrap_or("unknown")
        .to_string()
}

/// The CLI's version in `docker --version` output (`Docker version 28.5.2+dfsg4, build 9c2b0b8`
/// gives `28.5.2+dfsg4`).
pub fn cli_version_word(text: &str) -> Option<String> {
    let rest = text.trim().strip_prefix("Docker version ")?;
    let word = rest.split([',', ' ']).next()?;
    (!word.is_empty()).then(|| word.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_failure_message_is_the_last_error_line() {
        assert_eq!(
            cli_failure_message("#5 ERROR: x\nerror: failed to solve: y\n\n"),
            "error: failed to solve: y"
        );
        assert_eq!(
            cli_failure_message("Step 2/2 : RUN false\nreturned a non-zero code: 1\n"),
            "returned a non-zero code: 1"
        );
        assert_eq!(cli_failure_message(""), "build failed");
    }

    #[test]
    fn cli_and_plugin_versions_are_read_from_their_version_lines() {
        assert_eq!(
            cli_version_word("Docker version 28.5.2+dfsg4, build 9cc6dea35e9a963f\n").as_deref(),
            Some("28.5.2+dfsg4")
        );
        assert_eq!(
            cli_version_word("Docker version 20.10.24+dfsg1, build 297e128").as_deref(),
            Some("20.10.24+dfsg1")
        );
        assert_eq!(cli_version_word("podman version 5.8.6"), None);
        assert_eq!(
            buildx_version_word("github.com/docker/buildx 0.29.1+ds1 0.29.1+ds1-4\n"),
            "0.29.1+ds1"
        );
        assert_eq!(buildx_version_word(""), "unknown");
    }
}

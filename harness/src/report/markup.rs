//! Text made safe for the HTML and XML cachet writes (index.html, merged.html, junit.xml).

/// `text` escaped for element content and attribute values alike.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

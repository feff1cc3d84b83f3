//! Chat text as the client shows it: plain text with web links made clickable. Nothing in a
//! message is ever interpreted as HTML; a segment is either text or a link whose target is the
//! exact `http(s)://` text the sender typed.

/// One piece of a chat message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment<'a> {
    Text(&'a str),
    Link(&'a str),
}

/// Split `body` into text and `http://` or `https://` links. A link ends at whitespace, and
/// trailing punctuation that usually closes a sentence (`.,;:!?)'"`) is left out of it.
pub fn segments(body: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(start) = find_link_start(rest) {
        let candidate = &rest[start..];
        let end = candidate.find(char::is_whitespace).unwrap_or(candidate.len());
        let link = candidate[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'', '"']);
        let scheme_len = if link.starts_with("https://") { 8 } else { 7 };
        if link.len() <= scheme_len {
            // "https://" alone is not a link; keep it as text and look further on.
            let skip = start + scheme_len;
            out.push(Segment::Text(&rest[..skip]));
            rest = &rest[skip..];
            continue;
        }
        if start > 0 {
            out.push(Segment::Text(&rest[..start]));
        }
        out.push(Segment::Link(link));
        rest = &rest[start + link.len()..];
    }
    if !rest.is_empty() {
        out.push(Segment::Text(rest));
    }
    out
}

fn find_link_start(s: &str) -> Option<usize> {
    let lower = s.to_ascii_lowercase();
    let http = lower.find("http://");
    let https = lower.find("https://");
    let found = match (http, https) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }?;
    // Only the lowercase scheme counts, so the link text is exactly what is opened.
    if s[found..].starts_with("http://") || s[found..].starts_with("https://") {
        Some(found)
    } else {
        // An upper-case "HTTP://": treat it as text by finding the next one after it.
        let next = found + 7;
        find_link_start(&s[next..]).map(|i| next + i)
    }
}

#[cfg(test)]
mod tests {
    use super::Segment::{Link, Text};
    use super::*;

    #[test]
    fn plain_text_stays_text() {
        assert_eq!(segments("hello <b>there</b>"), vec![Text("hello <b>there</b>")]);
        assert!(segments("").is_empty());
    }

    #[test]
    fn links_are_found_and_trailing_punctuation_left_out() {
        assert_eq!(
            segments("see https://example.org/a?b=1. thanks"),
            vec![Text("see "), Link("https://example.org/a?b=1"), Text(". thanks")]
        );
        assert_eq!(segments("(http://x.y)"), vec![Text("("), Link("http://x.y"), Text(")")]);
        assert_eq!(segments("http://a https://b"), vec![Link("http://a"), Text(" "), Link("https://b")]);
    }

    #[test]
    fn other_schemes_are_never_links() {
        for body in ["javascript:alert(1)", "data:text/html,<script>", "HTTP://shouting.example", "https://"] {
            assert!(segments(body).iter().all(|s| matches!(s, Text(_))), "{body}");
        }
    }

    #[test]
    fn segments_rebuild_the_body() {
        for body in ["a https://b c", "https://", "xhttps://y.z!", "héllo http://ü.example/é done"] {
            let rebuilt: String = segments(body)
                .into_iter()
                .map(|s| match s {
                    Text(t) | Link(t) => t,
                })
                .collect();
            assert_eq!(rebuilt, body);
        }
    }
}

//! A message's text as the reader sees it: its lines kept (the stylesheet's `pre-wrap`),
//! web addresses and e-mail addresses made links, and nothing else read as markup (every
//! piece is a text node; a link's address is only ever `http(s)://…` or `mailto:…`).

use leptos::prelude::*;
use linkify::{LinkFinder, LinkKind};

/// One piece of a message's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    /// A link: what the reader sees, and where it goes.
    Link {
        shown: &'a str,
        href: String,
    },
}

/// Splits `text` into plain text and links: `http://` and `https://` addresses (any other
/// scheme, `javascript:` included, stays text) and e-mail addresses.
pub fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut finder = LinkFinder::new();
    finder.kinds(&[LinkKind::Url, LinkKind::Email]).url_must_have_scheme(true);
    let mut out = Vec::new();
    // Text not pushed yet (a refused link joins the text around it): its byte range.
    let mut plain: Option<(usize, usize)> = None;
    for span in finder.spans(text) {
        let (start, mut end) = (span.start(), span.end());
        let href = match span.kind() {
            Some(LinkKind::Url) if web_address(span.as_str()) => {
                // The finder reads non-ASCII as part of an address (IRIs); Chinese
                // punctuation right after a link ends it ("见 https://x.cn/a，然后").
                end = start + span.as_str().find(cjk_punctuation).unwrap_or(span.as_str().len());
                Some(text[start..end].to_owned())
            }
            Some(LinkKind::Email) => Some(format!("mailto:{}", span.as_str())),
            _ => None,
        };
        match href {
            Some(href) => {
                if let Some((from, to)) = plain.take() {
                    out.push(Piece::Text(&text[from..to]));
                }
                out.push(Piece::Link { shown: &text[start..end], href });
                if end < span.end() {
                    plain = Some((end, span.end()));
                }
            }
            None => plain = Some((plain.map_or(start, |(from, _)| from), span.end())),
        }
    }
    if let Some((start, end)) = plain {
        out.push(Piece::Text(&text[start..end]));
    }
    out
}

/// CJK punctuation (U+3000–U+303F: 、。「」…) and fullwidth forms (U+FF00–U+FFEF:
/// ，！？：；（）…), which an address written in a sentence does not contain.
fn cjk_punctuation(c: char) -> bool {
    matches!(c, '\u{3000}'..='\u{303F}' | '\u{FF00}'..='\u{FFEF}')
}

fn web_address(url: &str) -> bool {
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    matches!(scheme.as_deref(), Some("http" | "https"))
}

/// The text of a message with its links, for a `<p class="text">`.
pub fn rich_text(text: &str) -> impl IntoView {
    pieces(text)
        .into_iter()
        .map(|piece| match piece {
            Piece::Text(t) => t.to_owned().into_any(),
            Piece::Link { shown, href } => view! {
                <a href=href target="_blank" rel="noopener noreferrer">{shown.to_owned()}</a>
            }
            .into_any(),
        })
        .collect_view()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(shown: &str, href: &str) -> Piece<'static> {
        Piece::Link { shown: Box::leak(shown.to_owned().into_boxed_str()), href: href.to_owned() }
    }

    #[test]
    fn web_and_mail_addresses_become_links_and_the_rest_stays_text() {
        assert_eq!(
            pieces("see https://example.com/a?b=1, or write to help@example.com."),
            vec![
                Piece::Text("see "),
                link("https://example.com/a?b=1", "https://example.com/a?b=1"),
                Piece::Text(", or write to "),
                link("help@example.com", "mailto:help@example.com"),
                Piece::Text("."),
            ]
        );
        assert_eq!(
            pieces("no links here\nsecond line"),
            vec![Piece::Text("no links here\nsecond line")]
        );
        assert_eq!(
            pieces("HTTP://EXAMPLE.COM"),
            vec![link("HTTP://EXAMPLE.COM", "HTTP://EXAMPLE.COM")]
        );
        assert_eq!(
            pieces("中文 http://例子.cn/路径 完"),
            vec![
                Piece::Text("中文 "),
                link("http://例子.cn/路径", "http://例子.cn/路径"),
                Piece::Text(" 完")
            ]
        );
        // Chinese punctuation ends a link.
        assert_eq!(
            pieces("请看 https://example.com/a，然后告诉我。"),
            vec![
                Piece::Text("请看 "),
                link("https://example.com/a", "https://example.com/a"),
                Piece::Text("，然后告诉我。"),
            ]
        );
    }

    #[test]
    fn only_web_addresses_are_links() {
        for text in [
            "javascript://%0aalert(1)",
            "go to javascript:alert(1) now",
            "data://text/html,<script>alert(1)</script>",
            "file:///etc/passwd",
            "ftp://example.com/x",
            "example.com without a scheme",
            "<a href=\"https://x.test\">x</a>",
        ] {
            let links: Vec<_> = pieces(text)
                .into_iter()
                .filter_map(|p| match p {
                    Piece::Link { href, .. } => Some(href),
                    Piece::Text(_) => None,
                })
                .collect();
            assert!(
                links.iter().all(|h| h.starts_with("https://") || h.starts_with("mailto:")),
                "{text}: {links:?}"
            );
        }
        // Whatever is not a link comes back as the same text, whole.
        let text = "go to javascript:alert(1) or ftp://example.com/x now";
        assert_eq!(pieces(text), vec![Piece::Text(text)]);
    }
}

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
        let (start, end) = (span.start(), span.end());
        let found = match span.kind() {
            Some(LinkKind::Url) => web_link(span.as_str()),
            Some(LinkKind::Email) => mail_link(span.as_str()),
            _ => None,
        };
        match found {
            // Only what was found is a link; what the finder took around it is text.
            Some((from, to, href)) => {
                let (from, to) = (start + from, start + to);
                let before = plain.take().map_or(start, |(f, _)| f);
                if before < from {
                    out.push(Piece::Text(&text[before..from]));
                }
                out.push(Piece::Link { shown: &text[from..to], href });
                if to < end {
                    plain = Some((to, end));
                }
            }
            None => plain = Some((plain.map_or(start, |(from, _)| from), end)),
        }
    }
    if let Some((start, end)) = plain {
        out.push(Piece::Text(&text[start..end]));
    }
    out
}

/// A web address the finder found: the part of `url` that is the link (byte range) and its
/// href, if it is `http(s)://` and shows what it is.
fn web_link(url: &str) -> Option<(usize, usize, String)> {
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    if !matches!(scheme.as_deref(), Some("http" | "https")) {
        return None;
    }
    // The finder reads non-ASCII as part of an address (IRIs); Chinese punctuation right
    // after a link ends it ("见 https://x.cn/a，然后").
    let end = url.find(cjk_punctuation).unwrap_or(url.len());
    let link = &url[..end];
    (!link.chars().any(invisible)).then(|| (0, end, link.to_owned()))
}

/// An e-mail address the finder found: only a plain one (ASCII letters, digits and
/// `._+-` before the `@`, a host name after it) is a link, so that the address the mail
/// program is given is the one the reader sees (no `?cc=`, `%40` or text direction tricks).
/// The finder takes any non-ASCII text touching the address with it ("请联系a@b.cn，谢谢"):
/// that stays text.
fn mail_link(found: &str) -> Option<(usize, usize, String)> {
    let at = found.find('@')?;
    let local_ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-');
    let host_ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-');
    // The plain characters just before the `@`.
    let from = found[..at]
        .char_indices()
        .rev()
        .take_while(|&(_, c)| local_ok(c))
        .last()
        .map_or(at, |(i, _)| i);
    let after = &found[at + 1..];
    let host_len = after.find(|c| !host_ok(c)).unwrap_or(after.len());
    let host = after[..host_len].trim_end_matches(['.', '-']);
    let to = at + 1 + host.len();
    let local = &found[from..at];
    let plausible = !local.is_empty()
        && !local.starts_with('.')
        && host.contains('.')
        && !host.starts_with(['.', '-']);
    plausible.then(|| (from, to, format!("mailto:{}", &found[from..to])))
}

/// CJK punctuation (U+3000–U+303F: 、。「」…) and fullwidth forms (U+FF00–U+FFEF:
/// ，！？：；（）…), which an address written in a sentence does not contain.
fn cjk_punctuation(c: char) -> bool {
    matches!(c, '\u{3000}'..='\u{303F}' | '\u{FF00}'..='\u{FFEF}')
}

/// Characters that change how a link reads without being seen (zero-width, text direction).
fn invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
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

    fn link(shown: &'static str, href: &str) -> Piece<'static> {
        Piece::Link { shown, href: href.to_owned() }
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
    fn an_address_in_chinese_text_is_linked_alone() {
        assert_eq!(
            pieces("请联系help@example.com，谢谢"),
            vec![
                Piece::Text("请联系"),
                link("help@example.com", "mailto:help@example.com"),
                Piece::Text("，谢谢"),
            ]
        );
    }

    #[test]
    fn a_mail_link_goes_where_it_reads() {
        for text in
            ["attacker%40evil.com?@bank.com", "support?cc=x@evil.com", "\u{202E}moc.knab@evil.com"]
        {
            for piece in pieces(text) {
                if let Piece::Link { shown, href } = piece {
                    assert_eq!(href, format!("mailto:{shown}"), "{text:?}");
                    assert!(
                        shown.chars().all(|c| c.is_ascii_alphanumeric() || "@._+-".contains(c)),
                        "{text:?}: {shown}"
                    );
                }
            }
        }
        let spoofed = "https://bank.example/\u{202E}gpj.exe";
        assert!(
            pieces(spoofed).iter().all(|p| matches!(p, Piece::Text(_))),
            "{:?}",
            pieces(spoofed)
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

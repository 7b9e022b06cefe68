//! A conversation as a document to keep: plain text or a standalone HTML page, in the
//! reader's language and time zone, each message with its author and time and the files it
//! carried listed by name and size.
//!
//! Owns: the two formats. Must not: decide who may have a transcript (the hub's one rule,
//! asked by `transport::transcript`), or read the clock (the caller passes the time).

use app::protocol::{ConversationId, Status, UserName};
use app::text::Lang;
use app::uploads::human_size;
use time::{OffsetDateTime, UtcOffset};

use crate::model::StoredMessage;

/// What a transcript is made of.
pub struct Transcript<'a> {
    pub id: ConversationId,
    pub customer: &'a UserName,
    pub status: Status,
    pub messages: &'a [StoredMessage],
    pub lang: Lang,
    /// The reader's offset from UTC, in minutes east (their browser's).
    pub offset_min: i32,
    /// When it was made (ms since the epoch).
    pub now: u64,
    /// The conversation goes on after the messages given (the transcript stops there).
    pub cut: bool,
}

/// The formats a transcript comes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Text,
    Html,
}

impl Format {
    /// Its media type and file extension.
    pub fn media(self) -> (&'static str, &'static str) {
        match self {
            Format::Text => ("text/plain; charset=utf-8", "txt"),
            Format::Html => ("text/html; charset=utf-8", "html"),
        }
    }
}

/// `text`'s lines, split at every kind of line break, each without control characters
/// (a tab is kept).
fn plain_lines(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}'])
        .filter(|line| !line.is_empty())
        .map(|line| line.chars().filter(|c| *c == '\t' || !c.is_control()).collect())
}

/// The most minutes a reader's offset from UTC may be (UTC−14:00 … UTC+14:00).
pub const OFFSET_MAX_MIN: i32 = 14 * 60;

impl Transcript<'_> {
    /// The transcript in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Text => self.text(),
            Format::Html => self.html(),
        }
    }

    fn offset(&self) -> UtcOffset {
        let clamped = self.offset_min.clamp(-OFFSET_MAX_MIN, OFFSET_MAX_MIN);
        // Within ±14 hours: always a valid offset.
        UtcOffset::from_whole_seconds(clamped * 60).unwrap_or(UtcOffset::UTC)
    }

    /// A moment as `2026-12-05 14:03` in the reader's offset.
    fn at(&self, ms: u64) -> String {
        let nanos = i128::from(ms) * 1_000_000;
        let Ok(moment) = OffsetDateTime::from_unix_timestamp_nanos(nanos) else {
            return String::new();
        };
        let local = moment.to_offset(self.offset());
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            local.year(),
            u8::from(local.month()),
            local.day(),
            local.hour(),
            local.minute()
        )
    }

    /// `UTC+08:00`.
    fn zone(&self) -> String {
        let minutes = self.offset().whole_minutes();
        let sign = if minutes < 0 { '-' } else { '+' };
        format!("UTC{sign}{:02}:{:02}", minutes.abs() / 60, minutes.abs() % 60)
    }

    fn title(&self) -> String {
        self.lang
            .ui()
            .transcript_title
            .replace("{number}", &self.id.0.to_string())
            .replace("{customer}", self.customer.as_str())
    }

    fn made(&self) -> String {
        let ui = self.lang.ui();
        let status = ui.status(self.status);
        ui.transcript_made
            .replace("{when}", &self.at(self.now))
            .replace("{zone}", &self.zone())
            .replace("{status}", status)
    }

    /// Where a transcript that stops before the conversation does says so.
    fn cut_line(&self) -> String {
        self.lang.ui().transcript_cut.replace("{count}", &self.messages.len().to_string())
    }

    /// A file as listed: `File: report.pdf (120 KB)`.
    fn file(&self, name: &str, size: u64) -> String {
        format!("{}{name} ({})", self.lang.ui().transcript_file, human_size(size))
    }

    fn text(&self) -> String {
        let mut out = format!("{}\n{}\n\n", self.title(), self.made());
        if self.messages.is_empty() {
            out.push_str(self.lang.ui().no_messages);
            out.push('\n');
        }
        for m in self.messages {
            out.push_str(&format!("[{}] {}:", self.at(m.ts), m.from));
            // Each line of the text indented under its author: every kind of line break
            // starts one, and no control character is written (a lone carriage return or an
            // escape sequence could make a line look like someone else's).
            for (i, line) in plain_lines(&m.text).enumerate() {
                out.push_str(if i == 0 { " " } else { "\n    " });
                out.push_str(&line);
            }
            out.push('\n');
            for a in &m.attachments {
                out.push_str(&format!("    {}\n", self.file(&a.name, a.size)));
            }
        }
        if self.cut {
            out.push_str(&format!("\n{}\n", self.cut_line()));
        }
        out
    }

    fn html(&self) -> String {
        use html_escape::encode_text as esc;
        let title = self.title();
        let mut out = format!(
            "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n\
             <style>body{{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;color:#1d2330}}\
             .m{{margin:0 0 1rem}}.who{{font-weight:600}}time{{color:#5d6678;font-size:.85rem;margin-left:.5rem}}\
             p{{margin:.2rem 0;white-space:pre-wrap;overflow-wrap:anywhere}}.file{{color:#5d6678}}</style>\n\
             </head>\n<body>\n<h1>{}</h1>\n<p>{}</p>\n",
            self.lang.tag(),
            esc(&title),
            esc(&title),
            esc(&self.made())
        );
        if self.messages.is_empty() {
            out.push_str(&format!("<p>{}</p>\n", esc(self.lang.ui().no_messages)));
        }
        for m in self.messages {
            out.push_str(&format!(
                "<div class=\"m\"><span class=\"who\">{}</span><time>{}</time>",
                esc(m.from.as_str()),
                esc(&self.at(m.ts))
            ));
            if !m.text.is_empty() {
                out.push_str(&format!("<p>{}</p>", esc(&m.text)));
            }
            for a in &m.attachments {
                out.push_str(&format!(
                    "<p class=\"file\">{}</p>",
                    esc(&self.file(&a.name, a.size))
                ));
            }
            out.push_str("</div>\n");
        }
        if self.cut {
            out.push_str(&format!("<p>{}</p>\n", esc(&self.cut_line())));
        }
        out.push_str("</body>\n</html>\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CustomerId, Identity};
    use app::protocol::{Attachment, AttachmentId, MessageId};

    fn message(seq: u64, from: &str, text: &str, ts: u64) -> StoredMessage {
        StoredMessage {
            id: MessageId(seq),
            conversation: ConversationId(42),
            seq,
            author: Identity::Customer(CustomerId(1)),
            from: UserName::parse(from).unwrap(),
            to: None,
            text: text.into(),
            client_id: None,
            ts,
            attachments: vec![],
        }
    }

    /// 2026-12-05 06:03 UTC.
    const TS: u64 = 1_796_450_580_000;

    fn transcript<'a>(
        customer: &'a UserName,
        messages: &'a [StoredMessage],
        lang: Lang,
    ) -> Transcript<'a> {
        Transcript {
            id: ConversationId(42),
            customer,
            status: Status::Resolved,
            messages,
            lang,
            offset_min: 480,
            now: TS + 60_000,
            cut: false,
        }
    }

    #[test]
    fn text_lists_each_message_with_its_time_in_the_readers_zone_and_its_files() {
        let customer = UserName::parse("Léa").unwrap();
        let mut with_file = message(2, "amy", "Here is the label\nPrint it", TS + 30_000);
        with_file.attachments.push(Attachment {
            id: AttachmentId::parse("0123456789abcdef0123456789abcdef").unwrap(),
            name: "label.pdf".into(),
            mime: "application/pdf".into(),
            size: 120 * 1024,
            image: None,
            thumb: None,
        });
        let messages = [message(1, "Léa", "Where is my parcel?", TS), with_file];
        let text = transcript(&customer, &messages, Lang::En).render(Format::Text);
        assert_eq!(
            text,
            "Conversation #42 with Léa\nDownloaded 2026-12-05 14:04 (times in UTC+08:00). Status: resolved.\n\n\
             [2026-12-05 14:03] Léa: Where is my parcel?\n\
             [2026-12-05 14:03] amy: Here is the label\n    Print it\n    File: label.pdf (120 KB)\n"
        );
        let zh = transcript(&customer, &messages, Lang::ZhCn).render(Format::Text);
        assert!(zh.starts_with("与 Léa 的会话 #42\n"), "{zh}");
        assert!(zh.contains("文件：label.pdf (120 KB)"), "{zh}");
    }

    #[test]
    fn html_escapes_what_people_wrote_and_is_in_the_readers_language() {
        let customer =
            UserName::parse("<b>Bob</b>").unwrap_or_else(|_| UserName::parse("Bob").unwrap());
        let messages = [message(1, "Bob", "<script>alert(1)</script> & more", TS)];
        let html = transcript(&customer, &messages, Lang::ZhCn).render(Format::Html);
        assert!(html.contains("<html lang=\"zh-CN\">"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("2026-12-05 14:03"), "{html}");
    }

    #[test]
    fn a_line_cannot_pass_for_another_authors() {
        let customer = UserName::parse("Eve").unwrap();
        let messages =
            [message(1, "Eve", "ok\r[2026-12-05 14:05] amy: refund approved\u{1b}[2K", TS)];
        let text = transcript(&customer, &messages, Lang::En).render(Format::Text);
        assert!(
            text.contains("] Eve: ok\n    [2026-12-05 14:05] amy: refund approved[2K\n"),
            "{text}"
        );
        assert!(!text.contains('\r') && !text.contains('\u{1b}'), "{text:?}");
    }

    #[test]
    fn an_offset_beyond_fourteen_hours_is_held_at_it() {
        let customer = UserName::parse("Bob").unwrap();
        let t = Transcript { offset_min: -100_000, ..transcript(&customer, &[], Lang::En) };
        assert_eq!(t.zone(), "UTC-14:00");
        assert!(t.render(Format::Text).contains("No messages yet."));
        let cut = Transcript { cut: true, ..transcript(&customer, &[], Lang::ZhCn) };
        assert!(
            cut.render(Format::Html).contains("此文件只包含前 0 条消息"),
            "says where it stops"
        );
    }
}

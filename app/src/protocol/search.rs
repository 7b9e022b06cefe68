//! Search for agents: what is asked, what is found, and the marked snippet shown for each
//! find.

use serde::{Deserialize, Serialize};

use super::*;

/// The `search` payload from an agent: conversations whose messages contain every word of
/// `query`, and (on the first page) those whose customer's name, the host site's user id or
/// number match it. Messages come newest first, [`SEARCH_PAGE`] at a time: `before` asks
/// for the page after the one that ended with that message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchRequest {
    pub query: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<MessageId>,
}

/// Messages found per page.
pub const SEARCH_PAGE: u32 = 20;
/// Conversations found by their customer or number, on the first page.
pub const SEARCH_CONVERSATIONS: u32 = 20;
/// The longest query, in characters.
pub const SEARCH_MAX_CHARS: usize = 100;
/// The most different words in a query (each is one more check of every message found).
pub const SEARCH_MAX_WORDS: usize = 8;
/// Characters of a message shown around what matched.
pub const SNIPPET_CHARS: usize = 120;

/// What matched in a conversation found by its customer or number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FoundBy {
    /// The conversation's number (`#42` or `42`).
    Number,
    /// The customer's name.
    Name,
    /// The user id the host site signed into the widget.
    UserId,
}

/// A conversation found by its customer or number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundConversation {
    pub conversation: ConversationId,
    pub customer: UserName,
    pub status: Status,
    /// The agent who has it, while it is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<UserName>,
    /// Its last activity (ms since the epoch).
    pub ts: u64,
    pub by: FoundBy,
    /// What matched (the name, the user id or the number), marked.
    pub snippet: Snippet,
}

/// A message found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundMessage {
    pub id: MessageId,
    pub conversation: ConversationId,
    pub seq: u64,
    pub customer: UserName,
    pub status: Status,
    /// The agent who has its conversation, while it is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<UserName>,
    pub from: UserName,
    pub ts: u64,
    /// The message around the first word that matched, every match marked.
    pub snippet: Snippet,
}

/// The `search_results` payload: one page of what a `search` found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResults {
    /// The query as asked (the client shows the answer to its latest).
    pub query: String,
    /// The page this answers (`before` as asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<MessageId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conversations: Vec<FoundConversation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<FoundMessage>,
    /// More messages were found than this page holds: ask again with this as `before`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<MessageId>,
}

/// A piece of text with the parts that matched marked: `marks` are `[start, end)` ranges of
/// characters (not bytes), in order, not overlapping.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snippet {
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub marks: Vec<(u32, u32)>,
    /// Text was cut before the start / after the end.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cut_before: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cut_after: bool,
}

/// A query, read: its words (split at white space), each as typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchQuery {
    pub text: String,
    pub words: Vec<String>,
}

impl SearchQuery {
    /// Reads a query: white space trimmed and collapsed, a word repeated (ignoring case)
    /// kept once; refused when empty, longer than [`SEARCH_MAX_CHARS`], of more than
    /// [`SEARCH_MAX_WORDS`] words, or of one-character words only (those would read every
    /// message).
    pub fn parse(query: &str) -> Result<Self, Problem> {
        let all: Vec<&str> = query.split_whitespace().collect();
        let text = all.join(" ");
        if text.is_empty() {
            return Err(Problem::SearchEmpty);
        }
        if text.chars().count() > SEARCH_MAX_CHARS {
            return Err(Problem::SearchTooLong);
        }
        let mut words: Vec<String> = Vec::new();
        for word in all {
            let folded: String = word.chars().map(fold).collect();
            if !words.iter().any(|w| w.chars().map(fold).collect::<String>() == folded) {
                words.push(word.to_owned());
            }
        }
        if words.len() > SEARCH_MAX_WORDS {
            return Err(Problem::SearchTooManyWords);
        }
        let query = Self { text, words };
        // A conversation's number may be one digit.
        if query.number().is_none() && query.words.iter().all(|w| w.chars().count() < 2) {
            return Err(Problem::SearchTooShort);
        }
        Ok(query)
    }

    /// The conversation number it names, if it is one (`42` or `#42`).
    pub fn number(&self) -> Option<u64> {
        let digits = self.text.strip_prefix('#').unwrap_or(&self.text);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }

    /// Whether `text` contains every word, ignoring case.
    pub fn matches(&self, text: &str) -> bool {
        let folded = Folded::new(text);
        self.words.iter().all(|w| folded.find(w, 0).is_some())
    }

    /// `text` around the first place any word matched, at most [`SNIPPET_CHARS`] characters,
    /// every match inside marked (ignoring case).
    pub fn snippet(&self, text: &str) -> Snippet {
        let folded = Folded::new(text);
        let mut marks: Vec<(usize, usize)> = Vec::new();
        for word in &self.words {
            let mut from = 0;
            while let Some((start, end)) = folded.find(word, from) {
                marks.push((start, end));
                from = end;
            }
        }
        marks.sort_unstable();
        // Overlapping matches (of different words) become one.
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(marks.len());
        for (start, end) in marks {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        let total = folded.chars.len();
        let first = merged.first().map_or(0, |m| m.0);
        // Some context before the first match, the rest after it.
        let start =
            if total <= SNIPPET_CHARS { 0 } else { first.saturating_sub(SNIPPET_CHARS / 4) };
        let start = start.min(total.saturating_sub(SNIPPET_CHARS));
        let end = (start + SNIPPET_CHARS).min(total);
        let text: String = folded.chars[start..end].iter().collect();
        let marks = merged
            .into_iter()
            .filter(|&(s, e)| e > start && s < end)
            .map(|(s, e)| ((s.max(start) - start) as u32, (e.min(end) - start) as u32))
            .collect();
        Snippet { text, marks, cut_before: start > 0, cut_after: end < total }
    }
}

/// A text as characters, and each character folded for comparing without case.
struct Folded {
    chars: Vec<char>,
    folded: Vec<char>,
}

impl Folded {
    fn new(text: &str) -> Self {
        let chars: Vec<char> = text.chars().collect();
        let folded = chars.iter().map(|&c| fold(c)).collect();
        Self { chars, folded }
    }

    /// The first match of `word` at or after character `from`: its character range.
    fn find(&self, word: &str, from: usize) -> Option<(usize, usize)> {
        let word: Vec<char> = word.chars().map(fold).collect();
        if word.is_empty() || word.len() > self.folded.len() {
            return None;
        }
        (from..=self.folded.len() - word.len())
            .find(|&i| self.folded[i..i + word.len()] == word[..])
            .map(|i| (i, i + word.len()))
    }
}

/// One character without case (its first lower-case character: exact for every script
/// whose lower case is one character, which is all a chat search needs).
fn fold(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

impl Snippet {
    /// The text in pieces, each marked or not, in order.
    pub fn pieces(&self) -> Vec<(String, bool)> {
        let chars: Vec<char> = self.text.chars().collect();
        let mut pieces = Vec::new();
        let mut at = 0usize;
        for &(s, e) in &self.marks {
            let (s, e) = ((s as usize).min(chars.len()), (e as usize).min(chars.len()));
            if s < at || e <= s {
                continue;
            }
            if s > at {
                pieces.push((chars[at..s].iter().collect(), false));
            }
            pieces.push((chars[s..e].iter().collect(), true));
            at = e;
        }
        if at < chars.len() {
            pieces.push((chars[at..].iter().collect(), false));
        }
        pieces
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(q: &str) -> SearchQuery {
        SearchQuery::parse(q).unwrap()
    }

    #[test]
    fn a_query_is_trimmed_and_refused_when_empty_or_too_long() {
        assert_eq!(query("  refund \t order ").text, "refund order");
        assert_eq!(query("  refund \t order ").words, vec!["refund", "order"]);
        assert_eq!(SearchQuery::parse(" \n ").unwrap_err(), Problem::SearchEmpty);
        let long = "退".repeat(SEARCH_MAX_CHARS + 1);
        assert_eq!(SearchQuery::parse(&long).unwrap_err(), Problem::SearchTooLong);
        assert!(SearchQuery::parse(&"退".repeat(SEARCH_MAX_CHARS)).is_ok());
        // Repeated words count once; too many different ones, or only single characters,
        // are refused.
        assert_eq!(query("e E e zq").words, vec!["e", "zq"]);
        let many = (0..=SEARCH_MAX_WORDS).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ");
        assert_eq!(SearchQuery::parse(&many).unwrap_err(), Problem::SearchTooManyWords);
        assert_eq!(SearchQuery::parse("a b 退").unwrap_err(), Problem::SearchTooShort);
        assert!(SearchQuery::parse("a 退款").is_ok());
    }

    #[test]
    fn a_number_names_a_conversation() {
        assert_eq!(query("#42").number(), Some(42));
        assert_eq!(query("42").number(), Some(42));
        assert_eq!(query("#7").number(), Some(7));
        assert_eq!(SearchQuery::parse("#"), Err(Problem::SearchTooShort));
        assert_eq!(query("4 27").number(), None);
        assert_eq!(query("order 42").number(), None);
    }

    #[test]
    fn every_word_must_match_ignoring_case() {
        let q = query("REFUND order");
        assert!(q.matches("Please refund my Order"));
        assert!(!q.matches("Please refund me"));
        assert!(query("退款").matches("我想申请退款，谢谢"));
        assert!(query("ÉTÉ").matches("cet été"));
    }

    #[test]
    fn a_snippet_marks_every_match_by_character() {
        let s = query("退款 order").snippet("我要退款 for my ORDER, 退款!");
        assert_eq!(s.text, "我要退款 for my ORDER, 退款!");
        assert_eq!(s.marks, vec![(2, 4), (12, 17), (19, 21)]);
        let pieces = s.pieces();
        assert_eq!(pieces[1], ("退款".to_owned(), true));
        assert_eq!(pieces[3], ("ORDER".to_owned(), true));
        assert!(!s.cut_before && !s.cut_after);
    }

    #[test]
    fn a_long_message_is_cut_around_its_first_match() {
        let text = format!("{}needle{}", "a".repeat(500), "b".repeat(500));
        let s = query("needle").snippet(&text);
        assert_eq!(s.text.chars().count(), SNIPPET_CHARS);
        assert!(s.cut_before && s.cut_after);
        let (start, end) = s.marks[0];
        let shown: String =
            s.text.chars().skip(start as usize).take((end - start) as usize).collect();
        assert_eq!(shown, "needle");
        // A match near the end keeps the snippet full, not short.
        let s = query("end").snippet(&format!("{}end", "x".repeat(300)));
        assert_eq!(s.text.chars().count(), SNIPPET_CHARS);
        assert!(s.text.ends_with("end") && !s.cut_after);
    }

    #[test]
    fn overlapping_matches_are_one_mark() {
        let s = query("abc bcd").snippet("xabcdx");
        assert_eq!(s.marks, vec![(1, 5)]);
    }
}

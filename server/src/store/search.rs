//! The SQL of a search, for either database: which messages contain every word of a query,
//! and which conversations a query names by their customer or number, among those an agent
//! sees.
//!
//! Owns: the statements and their parameters. SQLite finds words of three characters or
//! more through its full-text index of trigrams (`messages_fts`, migration 0011: any three
//! characters in a row, so Chinese is found as well as English); shorter words (a Chinese
//! word is often two characters) are checked with `LIKE` on the messages the index gave, or,
//! when no word is long enough, by reading messages newest first until a page is full. The
//! index is kept behind the messages (`sqlite_indexer`): the newest, not indexed yet, are
//! read first with `LIKE` ([`Part::After`]), then the index ([`Part::IndexedUpTo`]).
//! PostgreSQL checks every word with `ILIKE`, which its trigram index (`pg_trgm`) answers.
//! Must not: decide who may see a conversation. The visibility condition here is the hub's
//! rule restated so that a page is not filled with conversations the hub then refuses; the
//! hub still judges every one found ([`crate::hub::Hub::found`]).

use app::protocol::{MessageId, SearchQuery, SEARCH_CONVERSATIONS};

use super::rows::{int, MESSAGE_COLUMNS};
use crate::model::AgentKey;

/// Which database a statement is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dialect {
    Sqlite,
    Postgres,
}

/// One parameter of a statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Bind {
    Text(String),
    Int(i64),
    Bool(bool),
}

/// A statement and its parameters (`$1`, `$2`, … in order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Statement {
    pub sql: String,
    pub binds: Vec<Bind>,
}

impl Statement {
    fn bind(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }
}

/// Who searches: an agent, who sees what the hub's rule lets them, or an admin, who sees all.
#[derive(Clone, Copy, Debug)]
pub(super) struct Searcher<'a> {
    pub agent: &'a AgentKey,
    pub admin: bool,
}

/// Words the trigram index can find: three characters or more.
const INDEXED_CHARS: usize = 3;

/// The condition that conversation `c` is one `who` may see (the hub's rule, see the module).
fn visible(st: &mut Statement, who: Searcher<'_>) -> String {
    let admin = st.bind(Bind::Bool(who.admin));
    let me = st.bind(Bind::Text(who.agent.as_str().to_owned()));
    format!(
        "({admin} OR c.status IN ('new', 'queued') OR c.assignee_key = {me} \
          OR EXISTS (SELECT 1 FROM conversation_agents a WHERE a.conversation_id = c.id AND a.agent_key = {me}))"
    )
}

/// A `LIKE` pattern that matches text containing `word` (its `%`, `_` and `\` taken as
/// themselves).
fn containing(word: &str) -> String {
    let mut pattern = String::with_capacity(word.len() + 2);
    pattern.push('%');
    for c in word.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// `column` contains `word` ignoring case (SQLite's `LIKE` ignores the case of ASCII
/// letters only; its full-text index folds every script).
fn like(st: &mut Statement, dialect: Dialect, column: &str, word: &str) -> String {
    let pattern = st.bind(Bind::Text(containing(word)));
    match dialect {
        Dialect::Sqlite => format!("{column} LIKE {pattern} ESCAPE '\\'"),
        Dialect::Postgres => format!("{column} ILIKE {pattern} ESCAPE '\\'"),
    }
}

/// Which messages a statement reads: all of them (PostgreSQL, whose index is kept as
/// messages are stored), or on SQLite those its search index holds (ids up to its position)
/// or those after it, not indexed yet (see `sqlite_indexer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Part {
    All,
    IndexedUpTo(i64),
    After(i64),
}

/// The messages, newest first, that contain every word of `query`, in conversations `who`
/// may see, with ids below `before`, among `part`: at most `limit`. The rows are
/// [`MESSAGE_COLUMNS`].
pub(super) fn messages(
    dialect: Dialect,
    query: &SearchQuery,
    who: Searcher<'_>,
    before: Option<MessageId>,
    part: Part,
    limit: u32,
) -> Statement {
    let mut st = Statement { sql: String::new(), binds: Vec::new() };
    let columns =
        MESSAGE_COLUMNS.split(", ").map(|c| format!("m.{c}")).collect::<Vec<_>>().join(", ");
    let before = st.bind(Bind::Int(before.map_or(i64::MAX, |b| int(b.0))));
    let indexed: Vec<&String> =
        query.words.iter().filter(|w| w.chars().count() >= INDEXED_CHARS).collect();
    let use_index = matches!(part, Part::IndexedUpTo(_)) && !indexed.is_empty();
    let (from, mut conditions, order) = if use_index {
        // Every long word a phrase of its own ("" is a quote inside one), all required.
        let phrases: Vec<String> =
            indexed.iter().map(|w| format!("\"{}\"", w.replace('"', "\"\""))).collect();
        let matching = st.bind(Bind::Text(phrases.join(" AND ")));
        (
            "messages_fts f JOIN messages m ON m.id = f.rowid",
            vec![format!("messages_fts MATCH {matching}"), format!("f.rowid < {before}")],
            "f.rowid DESC",
        )
    } else {
        ("messages m", vec![format!("m.id < {before}")], "m.id DESC")
    };
    match part {
        Part::All => {}
        Part::IndexedUpTo(up_to) => {
            let column = if use_index { "f.rowid" } else { "m.id" };
            conditions.push(format!("{column} <= {}", st.bind(Bind::Int(up_to))));
        }
        Part::After(after) => conditions.push(format!("m.id > {}", st.bind(Bind::Int(after)))),
    }
    for word in &query.words {
        let long = word.chars().count() >= INDEXED_CHARS;
        // What the index checked is not checked again.
        if !(use_index && long) {
            conditions.push(like(&mut st, dialect, "m.body", word));
        }
    }
    conditions.push(visible(&mut st, who));
    let limit = st.bind(Bind::Int(i64::from(limit)));
    st.sql = format!(
        "SELECT {columns} FROM {from} JOIN conversations c ON c.id = m.conversation_id \
         WHERE {} ORDER BY {order} LIMIT {limit}",
        conditions.join(" AND ")
    );
    st
}

/// The conversations, most recently active first, that `query` names: by number (`42`,
/// `#42`), by their customer's name (every word in it) or by the user id the host site gave
/// them (all of it), among those `who` may see. Rows: `id`, `updated_at`, `external_id`
/// (when it is what matched, else null).
pub(super) fn conversations(dialect: Dialect, query: &SearchQuery, who: Searcher<'_>) -> Statement {
    let mut st = Statement { sql: String::new(), binds: Vec::new() };
    // Each way of naming a conversation looked up on its own (an index each, and one tight
    // scan of the customers' names), not tried on every conversation in turn: the database
    // takes the union of the three.
    let mut named = Vec::new();
    if let Some(number) = query.number().and_then(|n| i64::try_from(n).ok()) {
        named.push(format!("c.id = {}", st.bind(Bind::Int(number))));
    }
    let name: Vec<String> = query.words.iter().map(|w| like(&mut st, dialect, "name", w)).collect();
    named.push(format!("c.customer_id IN (SELECT id FROM customers WHERE {})", name.join(" AND ")));
    let external = st.bind(Bind::Text(query.text.clone()));
    named.push(format!(
        "c.customer_id IN (SELECT customer_id FROM external_customers WHERE external_id = {external})"
    ));
    let visible = visible(&mut st, who);
    let limit = st.bind(Bind::Int(i64::from(SEARCH_CONVERSATIONS)));
    st.sql = format!(
        "SELECT c.id, c.updated_at, e.external_id FROM conversations c \
         LEFT JOIN external_customers e ON e.customer_id = c.customer_id AND e.external_id = {external} \
         WHERE ({}) AND {visible} ORDER BY c.updated_at DESC, c.id DESC LIMIT {limit}",
        named.join(" OR ")
    );
    st
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_take_wildcards_literally() {
        assert_eq!(containing("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(containing("退款"), "%退款%");
    }

    #[test]
    fn sqlite_asks_its_index_for_long_words_and_like_for_short_ones() {
        let agent = AgentKey::from_stored("ann".to_owned());
        let who = Searcher { agent: &agent, admin: false };
        let query = SearchQuery::parse("refund 退款 \"x").unwrap();
        let st = messages(Dialect::Sqlite, &query, who, None, Part::IndexedUpTo(9), 20);
        assert!(
            st.sql.contains("messages_fts MATCH") && st.sql.contains("f.rowid <="),
            "{}",
            st.sql
        );
        assert!(st.binds.contains(&Bind::Text("\"refund\"".to_owned())), "{:?}", st.binds);
        assert!(st.binds.contains(&Bind::Text("%退款%".to_owned())), "{:?}", st.binds);
        assert!(st.binds.contains(&Bind::Text("%\"x%".to_owned())), "{:?}", st.binds);
        // Only short words: no index, newest messages first.
        let short = SearchQuery::parse("退款").unwrap();
        let st = messages(Dialect::Sqlite, &short, who, None, Part::IndexedUpTo(9), 20);
        assert!(!st.sql.contains("MATCH") && st.sql.contains("m.body LIKE"), "{}", st.sql);
        // After the index's position: every word scanned for.
        let st = messages(Dialect::Sqlite, &query, who, None, Part::After(9), 20);
        assert!(!st.sql.contains("MATCH") && st.sql.contains("m.id >"), "{}", st.sql);
        assert_eq!(st.sql.matches("m.body LIKE").count(), 3, "{}", st.sql);
        let st = messages(Dialect::Postgres, &query, who, None, Part::All, 20);
        assert_eq!(st.sql.matches("ILIKE").count(), 3, "{}", st.sql);
    }
}

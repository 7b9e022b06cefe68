-- Search: the text of every message in a full-text index of trigrams (any three characters
-- in a row, case folded, so that Chinese is found as well as English).
--
-- Indexing a message costs SQLite several times what storing it does (about 30 µs against
-- 8 µs measured here), so it is not done as messages are stored: a background indexer
-- (store/sqlite_indexer.rs) indexes what was stored since `indexed_up_to`, in batches,
-- with a bounded share of the CPU; a search reads the index up to there and scans the
-- messages after it. The messages already stored are indexed the same way after this
-- migration (a start is never held up by it).
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    body,
    content = 'messages',
    content_rowid = 'id',
    tokenize = 'trigram'
);
CREATE TABLE search_index (
    only_row      INTEGER PRIMARY KEY CHECK (only_row = 1),
    -- Every message with an id up to this one is in messages_fts; none after it.
    indexed_up_to INTEGER NOT NULL
);
INSERT INTO search_index (only_row, indexed_up_to) VALUES (1, 0);
-- Message ids only grow, but SQLite may give the id of the newest message again once it is
-- deleted (messages go with customers who are forgotten): a message stored with an id the
-- indexer has passed is indexed at once.
CREATE TRIGGER messages_fts_behind AFTER INSERT ON messages
WHEN new.id <= (SELECT indexed_up_to FROM search_index) BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;
-- A message taken out of the index must be taken out as it was put in (an external-content
-- index): only one that was indexed.
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
WHEN old.id <= (SELECT indexed_up_to FROM search_index) BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages
WHEN old.id <= (SELECT indexed_up_to FROM search_index) BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;

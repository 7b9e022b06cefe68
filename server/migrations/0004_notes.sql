-- Internal notes: agents only, outside the conversation's sequence of messages (customers'
-- sequence numbers stay gapless).
CREATE TABLE notes (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    author_key      TEXT NOT NULL,
    author_name     TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX notes_by_conversation ON notes (conversation_id, id);

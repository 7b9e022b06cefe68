-- Files sent in conversations. A message lists its files (JSON, as the wire has them);
-- this table says whose each upload is, for which conversation (who may send it, who may
-- fetch it). The bytes are in the blob store (a directory beside the database file).
ALTER TABLE messages ADD COLUMN attachments TEXT;
CREATE TABLE attachments (
    id              TEXT PRIMARY KEY NOT NULL,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    uploader_role   TEXT NOT NULL CHECK (uploader_role IN ('customer', 'agent')),
    uploader_key    TEXT NOT NULL,
    name            TEXT NOT NULL,
    mime            TEXT NOT NULL,
    size            INTEGER NOT NULL,
    width           INTEGER,
    height          INTEGER,
    thumb_width     INTEGER,
    thumb_height    INTEGER,
    created_at      INTEGER NOT NULL
);
CREATE INDEX attachments_by_conversation ON attachments (conversation_id);

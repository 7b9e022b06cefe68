-- Files sent in conversations. A message lists its files (JSON, as the wire has them);
-- this table says whose each upload is, for which conversation (who may send it, who may
-- fetch it). The bytes are in `blobs`, so that every node of a cluster reads them.
ALTER TABLE messages ADD COLUMN attachments TEXT;
CREATE TABLE attachments (
    id              TEXT PRIMARY KEY NOT NULL,
    conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    uploader_role   TEXT NOT NULL CHECK (uploader_role IN ('customer', 'agent')),
    uploader_key    TEXT NOT NULL,
    name            TEXT NOT NULL,
    mime            TEXT NOT NULL,
    size            BIGINT NOT NULL,
    width           BIGINT,
    height          BIGINT,
    thumb_width     BIGINT,
    thumb_height    BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX attachments_by_conversation ON attachments (conversation_id);
CREATE TABLE blobs (
    key   TEXT PRIMARY KEY NOT NULL,
    bytes BYTEA NOT NULL
);

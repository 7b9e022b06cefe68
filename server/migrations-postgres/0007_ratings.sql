-- Satisfaction ratings: one per resolution of a conversation, named by the sequence number
-- of its newest message when it was resolved (resolved again after the customer wrote is
-- another resolution).
CREATE TABLE ratings (
    conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,
    score           INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment         TEXT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);

-- What admins set for the whole desk, by name (`csat`: 'on' or 'off'). A name not here has
-- its default.
CREATE TABLE desk_settings (
    name  TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

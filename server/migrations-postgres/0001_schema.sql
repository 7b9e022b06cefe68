-- The PostgreSQL schema: the same tables as the SQLite migrations (server/migrations) in
-- their final form. Times are milliseconds since the epoch, as there.

-- Support agents who may log in with a password.
CREATE TABLE agents (
    -- The lower-cased name: names compare case-insensitively, as in the hub.
    name_key      TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    -- argon2id PHC string.
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    admin         BOOLEAN NOT NULL DEFAULT FALSE
);

-- Customers: an identity that outlives connections; names need not be unique over time.
CREATE TABLE customers (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- One conversation per customer, with the support team.
CREATE TABLE conversations (
    id            BIGSERIAL PRIMARY KEY,
    customer_id   BIGINT NOT NULL UNIQUE REFERENCES customers (id) ON DELETE CASCADE,
    -- The sequence number of the newest message; the next one gets last_seq + 1.
    last_seq      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'queued', 'open', 'resolved')),
    assignee_key  TEXT,
    assignee_name TEXT,
    queued_at     BIGINT NOT NULL DEFAULT 0,
    note          TEXT,
    -- Raised by every change: a change stored late never overwrites a newer one.
    version       BIGINT NOT NULL DEFAULT 0,
    -- How far the support side has read the customer's messages.
    read_seq      BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX conversations_by_update ON conversations (updated_at);
CREATE INDEX conversations_by_status ON conversations (status, queued_at);
CREATE INDEX conversations_by_assignee ON conversations (assignee_key, status);

-- The agents taking part in a conversation (kept if the account goes).
CREATE TABLE conversation_agents (
    conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    agent_key       TEXT NOT NULL,
    PRIMARY KEY (conversation_id, agent_key)
);
CREATE INDEX conversation_agents_by_agent ON conversation_agents (agent_key);

CREATE TABLE messages (
    id              BIGSERIAL PRIMARY KEY,
    conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,
    author_role     TEXT NOT NULL CHECK (author_role IN ('customer', 'agent')),
    -- customers.id for a customer, agents.name_key for an agent.
    author_key      TEXT NOT NULL,
    author_name     TEXT NOT NULL,
    to_name         TEXT,
    body            TEXT NOT NULL,
    -- The sender's idempotency key: a retry with the same one is stored once.
    client_id       TEXT,
    created_at      BIGINT NOT NULL,
    UNIQUE (conversation_id, seq)
);
CREATE UNIQUE INDEX messages_by_client_id
    ON messages (conversation_id, author_role, author_key, client_id) WHERE client_id IS NOT NULL;

-- Resume tokens (customers) and agent sessions. Only a hash of the token is kept.
CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    customer_id  BIGINT REFERENCES customers (id) ON DELETE CASCADE,
    agent_key    TEXT REFERENCES agents (name_key) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    CHECK ((customer_id IS NULL) <> (agent_key IS NULL))
);

-- Internal notes: agents only, outside the conversation's sequence of messages.
CREATE TABLE notes (
    id              BIGSERIAL PRIMARY KEY,
    conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    author_key      TEXT NOT NULL,
    author_name     TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX notes_by_conversation ON notes (conversation_id, id);

-- Canned replies: an agent types "/shortcut" and the text is put in the composer.
CREATE TABLE canned_replies (
    shortcut TEXT PRIMARY KEY,
    body     TEXT NOT NULL
);

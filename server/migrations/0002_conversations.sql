-- Customers: an identity that outlives connections; names need not be unique over time.
CREATE TABLE customers (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- One conversation per customer, with the support team.
CREATE TABLE conversations (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL UNIQUE REFERENCES customers (id) ON DELETE CASCADE,
    -- The sequence number of the newest message; the next one gets last_seq + 1.
    last_seq    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX conversations_by_update ON conversations (updated_at);

-- The agents taking part in a conversation (by agents.name_key; kept if the account goes,
-- so that the history still reads right).
CREATE TABLE conversation_agents (
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    agent_key       TEXT NOT NULL,
    PRIMARY KEY (conversation_id, agent_key)
);
CREATE INDEX conversation_agents_by_agent ON conversation_agents (agent_key);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    author_role     TEXT NOT NULL CHECK (author_role IN ('customer', 'agent')),
    -- customers.id for a customer, agents.name_key for an agent.
    author_key      TEXT NOT NULL,
    author_name     TEXT NOT NULL,
    to_name         TEXT,
    body            TEXT NOT NULL,
    -- The sender's idempotency key: a retry with the same one is stored once.
    client_id       TEXT,
    created_at      INTEGER NOT NULL,
    UNIQUE (conversation_id, seq)
);
CREATE UNIQUE INDEX messages_by_client_id
    ON messages (conversation_id, author_role, author_key, client_id) WHERE client_id IS NOT NULL;

-- Resume tokens (customers) and agent sessions. Only a hash of the token is kept.
CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY NOT NULL,
    customer_id  INTEGER REFERENCES customers (id) ON DELETE CASCADE,
    agent_key    TEXT REFERENCES agents (name_key) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    CHECK ((customer_id IS NULL) <> (agent_key IS NULL))
);

-- Support agents who may log in with a password.
CREATE TABLE agents (
    -- The lower-cased name: names compare case-insensitively, as in the hub.
    name_key      TEXT PRIMARY KEY NOT NULL,
    -- The name as the agent chose to write it.
    name          TEXT NOT NULL,
    -- argon2id PHC string.
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

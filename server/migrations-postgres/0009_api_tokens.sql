-- The REST API's tokens, made and revoked by admins in the console. Only the SHA-256 of a
-- token is kept: a copy of the database gives nobody access.
CREATE TABLE api_tokens (
    id           BIGSERIAL PRIMARY KEY,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    write        BOOLEAN NOT NULL DEFAULT FALSE,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);

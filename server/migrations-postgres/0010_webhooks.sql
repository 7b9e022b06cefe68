-- Webhooks admins register: the URL, the events it is sent (each between commas:
-- ',message.created,rating.given,'), and the secret its deliveries are signed with (kept as
-- it is: signing needs it).
CREATE TABLE webhooks (
    id         BIGSERIAL PRIMARY KEY,
    url        TEXT NOT NULL,
    events     TEXT NOT NULL,
    secret     TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- The outbox: one row per event per webhook that wants it, written in the same transaction
-- as the event; its id is the delivery's id. `next_at` is when it is tried next, NULL once
-- delivered or given up.
CREATE TABLE webhook_deliveries (
    id           BIGSERIAL PRIMARY KEY,
    webhook_id   BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event        TEXT NOT NULL,
    body         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    next_at      BIGINT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_at      BIGINT,
    last_status  INTEGER,
    last_error   TEXT,
    delivered_at BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE next_at IS NOT NULL;
CREATE INDEX webhook_deliveries_by_hook ON webhook_deliveries (webhook_id, id);

-- Every change of where a conversation stands (its status, or who has it), with when it was
-- made: what the reports measure waiting and resolution times with. Written with the change
-- itself (Store::set_state), in the same transaction. A database upgraded to this has no
-- history from before: its reports count from the upgrade on.
CREATE TABLE conversation_events (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    at              INTEGER NOT NULL,
    from_status     TEXT NOT NULL,
    status          TEXT NOT NULL,
    -- Who has it after the change (resolved: who resolved it).
    agent_key       TEXT,
    -- The sequence number of its newest message then (a resolution's, as ratings name it).
    seq             INTEGER NOT NULL
);
CREATE INDEX conversation_events_by_conversation ON conversation_events (conversation_id, status, at);
CREATE INDEX conversation_events_by_time ON conversation_events (at);
-- The reports count the messages of a period.
CREATE INDEX messages_by_time ON messages (created_at);

-- The support workflow: where each conversation stands and who has it.
ALTER TABLE conversations ADD COLUMN status TEXT NOT NULL DEFAULT 'new'
    CHECK (status IN ('new', 'queued', 'open', 'resolved'));
-- agents.name_key of the agent who has (or, resolved, had) it, and their name as shown.
ALTER TABLE conversations ADD COLUMN assignee_key TEXT;
ALTER TABLE conversations ADD COLUMN assignee_name TEXT;
-- When it last entered the queue (ms since the epoch): the oldest is served first.
ALTER TABLE conversations ADD COLUMN queued_at INTEGER NOT NULL DEFAULT 0;
-- The note left with the last transfer.
ALTER TABLE conversations ADD COLUMN note TEXT;
-- Raised by every change: a change stored late never overwrites a newer one.
ALTER TABLE conversations ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

-- Conversations that already have messages wait in the queue, in the order they were last active.
UPDATE conversations SET status = 'queued', queued_at = updated_at WHERE last_seq > 0;

CREATE INDEX conversations_by_status ON conversations (status, queued_at);
CREATE INDEX conversations_by_assignee ON conversations (assignee_key, status);

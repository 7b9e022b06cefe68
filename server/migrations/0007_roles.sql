-- Admins see every conversation and manage the team; other agents see their own and the queue.
ALTER TABLE agents ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;

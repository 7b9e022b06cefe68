-- Who made each REST API token and webhook, as their account's key: they go with the
-- account (ON DELETE CASCADE; `remove_agent` also deletes them itself, to count them), and
-- none can be made for an account removed meanwhile (the insert fails instead).
ALTER TABLE api_tokens ADD COLUMN created_by_key TEXT REFERENCES agents (name_key) ON DELETE CASCADE;
ALTER TABLE webhooks ADD COLUMN created_by_key TEXT REFERENCES agents (name_key) ON DELETE CASCADE;
UPDATE api_tokens SET created_by_key = (SELECT name_key FROM agents WHERE agents.name = api_tokens.created_by);
UPDATE webhooks SET created_by_key = (SELECT name_key FROM agents WHERE agents.name = webhooks.created_by);
-- Those whose maker was removed before their tokens and webhooks went with them: gone now.
DELETE FROM api_tokens WHERE created_by_key IS NULL;
DELETE FROM webhooks WHERE created_by_key IS NULL;

-- Search: message text and customer names indexed by trigrams (pg_trgm, which ships with
-- PostgreSQL and may be created by the database's owner since PostgreSQL 13), so that
-- ILIKE '%word%' is answered from the index, in Chinese as in English.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX messages_body_trgm ON messages USING gin (body gin_trgm_ops);
CREATE INDEX customers_name_trgm ON customers USING gin (name gin_trgm_ops);

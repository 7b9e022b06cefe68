-- What is known of a customer beyond their name: what they told (the pre-chat e-mail
-- address), what their browser said at login (page, language, time zone), what the host
-- site signed (attributes, a JSON object of strings) and the agents' note on them.
-- A row per stored customer anything was said of, deleted with them. (A new anonymous
-- customer's visit waits in memory with their conversation and is stored with them, at the
-- first write.)
CREATE TABLE customer_profiles (
    customer_id INTEGER PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,
    email       TEXT,
    -- The address lower-cased: other conversations with the same address are found by it.
    email_key   TEXT,
    page        TEXT,
    language    TEXT,
    time_zone   TEXT,
    attributes  TEXT,
    note        TEXT,
    note_by     TEXT,
    note_at     INTEGER,
    first_seen  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX customer_profiles_by_email ON customer_profiles (email_key) WHERE email_key IS NOT NULL;

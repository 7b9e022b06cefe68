-- What is known of a customer beyond their name: what they told (the pre-chat e-mail
-- address), what their browser said at login (page, language, time zone), what the host
-- site signed (attributes, a JSON object of strings) and the agents' note on them.
-- Keyed by customer id without a foreign key: an anonymous customer's visit is recorded at
-- login, before their row exists (it is stored at their first write; ids are never given
-- twice). The sweeper deletes the rows of customers who never wrote, with them.
CREATE TABLE customer_profiles (
    customer_id INTEGER PRIMARY KEY,
    email       TEXT,
    -- The address lower-cased: the same person's other conversations are found by it.
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

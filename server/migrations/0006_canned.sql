-- Canned replies: an agent types "/shortcut" and the text is put in the composer.
CREATE TABLE canned_replies (
    shortcut TEXT PRIMARY KEY NOT NULL,
    body     TEXT NOT NULL
);

-- How far the support side has read the customer's messages (the customer sees "Read").
ALTER TABLE conversations ADD COLUMN read_seq INTEGER NOT NULL DEFAULT 0;

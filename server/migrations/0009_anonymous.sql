-- Anonymous customers are stored at their first write, with ids numbered at login: the
-- largest id ever given out is kept here (raised a block at a time), so that a restart never
-- gives an id again that a client or an agent may still hold.
CREATE TABLE id_blocks (
    only_row      INTEGER PRIMARY KEY CHECK (only_row = 1),
    customers     INTEGER NOT NULL,
    conversations INTEGER NOT NULL
);
INSERT INTO id_blocks (only_row, customers, conversations)
    SELECT 1, (SELECT coalesce(max(id), 0) FROM customers), (SELECT coalesce(max(id), 0) FROM conversations);

-- The deletion of anonymous customers who never wrote looks up sessions and host-site links
-- by customer.
CREATE INDEX sessions_by_customer ON sessions (customer_id);
CREATE INDEX external_customers_by_customer ON external_customers (customer_id);

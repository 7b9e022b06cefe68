-- Customers the host site vouches for (the widget's signed identity): its own user id, and
-- the customer record it stands for here.
CREATE TABLE external_customers (
    external_id TEXT PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE
);

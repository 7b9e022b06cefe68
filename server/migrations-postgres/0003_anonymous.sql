-- The deletion of anonymous customers who never wrote looks up sessions and host-site links
-- by customer. (Ids come from the sequences, which never give one twice.)
CREATE INDEX sessions_by_customer ON sessions (customer_id);
CREATE INDEX external_customers_by_customer ON external_customers (customer_id);

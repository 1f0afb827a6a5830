-- Representative queries of the demo shop, for the EXPLAIN-plan checks.
-- One statement per query, separated by semicolons.

-- 1. customer lookup by unique email (index scan on the unique key)
SELECT id, first_name, last_name FROM customers WHERE email = 'someone@example.com';
-- 2. a customer's recent orders (index on customer_id, sort by date)
SELECT id, status, total, ordered_at FROM orders WHERE customer_id = 42 ORDER BY ordered_at DESC LIMIT 20;
-- 3. order with its lines and products (joins on keys)
SELECT o.id, i.line_no, p.name, i.quantity, i.unit_price
FROM orders o JOIN order_items i ON i.order_id = o.id JOIN products p ON p.id = i.product_id
WHERE o.id = 1000;
-- 4. revenue per day in a date range (range on an indexed timestamp)
SELECT date_trunc('day', ordered_at) AS day, sum(total) FROM orders
WHERE ordered_at >= '2025-01-01' AND ordered_at < '2025-02-01' GROUP BY 1 ORDER BY 1;
-- 5. top products by units sold (aggregate over the largest table)
SELECT product_id, sum(quantity) AS units FROM order_items GROUP BY product_id ORDER BY units DESC LIMIT 10;
-- 6. open orders (partial index on status)
SELECT count(*) FROM orders WHERE status = 'pending';
-- 7. filter on an unindexed column
SELECT count(*) FROM orders WHERE total > 500;
-- 8. customers by tier with order counts (view)
SELECT tier, count(*), sum(revenue) FROM customer_order_summary GROUP BY tier;
-- 9. payments of one order (partitioned table, index on order_id)
SELECT id, amount, method, paid_at FROM payments WHERE order_id = 777;
-- 10. payments in one year (partition pruning)
SELECT method, count(*), sum(amount) FROM payments WHERE paid_at >= '2025-03-01' AND paid_at < '2025-04-01'
GROUP BY method;
-- 11. products in a category by price (index on category, sort)
SELECT id, name, price FROM products WHERE category = 'books' ORDER BY price DESC LIMIT 25;
-- 12. tickets of a customer (index on customer_id)
SELECT id, subject, opened_at FROM support_tickets WHERE customer_id = 12 ORDER BY opened_at DESC;
-- 13. customers who never ordered (anti-join)
SELECT count(*) FROM customers c WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id);
-- 14. heavy buyers (group + having)
SELECT customer_id, count(*) AS n FROM orders GROUP BY customer_id HAVING count(*) > 50 ORDER BY n DESC;
-- 15. orders shipped to a city (join through nullable FK)
SELECT count(*) FROM orders o JOIN addresses a ON a.id = o.shipping_address_id WHERE a.city = 'Berlin';
-- 16. newest signups (index on created_at, LIMIT)
SELECT id, created_at FROM customers ORDER BY created_at DESC LIMIT 50;
-- 17. last names starting with a prefix (btree on last_name)
SELECT count(*) FROM customers WHERE last_name = 'Smith';
-- 18. parameterized: orders of a customer (generic plan)
SELECT id, total FROM orders WHERE customer_id = $1 AND status = $2;

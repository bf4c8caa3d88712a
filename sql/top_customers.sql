-- The five customers who spent the most (ties: username by code point), each with
-- the gems that at least one other of the five also bought.
WITH top AS (
    SELECT
        row_number() OVER (ORDER BY spent_money DESC, username) AS rank,
        username,
        spent_money,
        gems
    FROM deals_customer_totals
    ORDER BY spent_money DESC, username
    LIMIT 5
),
shared AS (
    -- gems arrays hold distinct items, so count(*) counts customers
    SELECT gem
    FROM top, unnest(top.gems) AS gem
    GROUP BY gem
    HAVING count(*) >= 2
)
SELECT
    top.rank::integer AS rank,
    top.username,
    top.spent_money,
    ARRAY(
        SELECT gem
        FROM unnest(top.gems) AS gem
        WHERE gem IN (SELECT gem FROM shared)
        ORDER BY gem
    ) AS gems
FROM top

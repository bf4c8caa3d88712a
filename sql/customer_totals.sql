-- Per customer: money spent and the distinct items bought, by code point.
-- Columns of deals_deal use the "C" collation, so DISTINCT/ORDER BY are by code point.
SELECT
    customer AS username,
    sum(total) AS spent_money,
    count(*) AS deals,
    array_agg(DISTINCT item ORDER BY item) AS gems
FROM deals_deal
GROUP BY customer

-- The answer of GET /api/deals/, rendered once per upload: one row with the exact response
-- body and its ETag, so that a request reads two values and sends them as they are.
-- The body is byte for byte what Python's JSON encoders write for the same rows (separators
-- ", " and ": ", keys in this order, non-ASCII characters as themselves): to_json(text)
-- escapes a string exactly as they do, and trim_scale() writes 451731.00 as 451731 and
-- 10.50 as 10.5. json_build_object() and jsonb would change the spacing or the key order.
WITH customers AS (
    SELECT
        rank,
        '{"username": ' || to_json(username)::text
        || ', "spent_money": ' || trim_scale(spent_money)::text
        || ', "gems": [' || array_to_string(
            ARRAY(
                SELECT to_json(gem)::text
                FROM unnest(gems) WITH ORDINALITY AS gem_list (gem, position)
                ORDER BY position
            ),
            ', '
        ) || ']}' AS json
    FROM deals_top_customers
),
report AS (
    -- One row even without customers: {"response": []}
    SELECT '{"response": [' || coalesce(string_agg(json, ', ' ORDER BY rank), '') || ']}' AS body
    FROM customers
)
SELECT
    body,
    -- A hash of the bytes served: any change of the body changes it.
    '"' || encode(sha256(convert_to(body, 'UTF8')), 'hex') || '"' AS etag
FROM report

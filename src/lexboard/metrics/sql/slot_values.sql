WITH
counts AS (
    -- slot_fills: the slot values of the fulfilled turns in the window that match the
    -- filters, one row per value (List slots expanded, Composite slots left out;
    -- store/slot_fills.py)
    SELECT intent, slot, value, count(*) AS "count"
    FROM slot_fills
    GROUP BY ALL
)
SELECT intent, slot, value, "count"
FROM counts
QUALIFY row_number() OVER (PARTITION BY intent, slot ORDER BY "count" DESC, value) <= $limit
ORDER BY intent, slot, "count" DESC, value

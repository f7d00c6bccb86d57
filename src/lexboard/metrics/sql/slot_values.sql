WITH
filled AS (
    SELECT intent, unnest(slots) AS slot
    FROM turns
    WHERE intent IS NOT NULL AND intent_state IN ('Fulfilled', 'ReadyForFulfillment')
), slot_values AS (
    -- List slots arrive expanded (one element per value); Composite slots are not counted
    SELECT intent, slot.name AS slot, coalesce(slot.interpreted_value, slot.original_value) AS value
    FROM filled
    WHERE slot.shape IS DISTINCT FROM 'Composite'
), counts AS (
    SELECT intent, slot, value, count(*) AS "count"
    FROM slot_values
    WHERE value IS NOT NULL
    GROUP BY ALL
)
SELECT intent, slot, value, "count"
FROM counts
QUALIFY row_number() OVER (PARTITION BY intent, slot ORDER BY "count" DESC, value) <= $limit
ORDER BY intent, slot, "count" DESC, value

WITH
counts AS (
    -- slot_fills holds each fulfilled turn's slot values, one row per value (List slots
    -- expanded, Composite slots left out), appended at ingest (store/slot_fills.py)
    SELECT intent, slot, value, count(*) AS "count"
    FROM main.slot_fills
    WHERE ts >= $window_from AND ts < $window_to
      AND ($bot_id IS NULL OR bot_id = $bot_id)
      AND ($locale_id IS NULL OR locale_id = $locale_id)
      AND ($alias_id IS NULL OR alias_id = $alias_id)
      AND ($input_mode IS NULL OR input_mode = $input_mode)
    GROUP BY ALL
)
SELECT intent, slot, value, "count"
FROM counts
QUALIFY row_number() OVER (PARTITION BY intent, slot ORDER BY "count" DESC, value) <= $limit
ORDER BY intent, slot, "count" DESC, value

WITH
    -- sessions.attributes holds each session's distinct non-empty (attribute, value) pairs
    -- over all its turns, kept current at ingest (store/sessions.py)
    pairs AS (
    SELECT unnest(attributes) AS pair FROM sessions
), counts AS (
    SELECT pair."key" AS attribute, pair."value" AS value, count(*) AS sessions
    FROM pairs GROUP BY ALL
)
SELECT attribute, value, sessions
FROM counts
QUALIFY row_number() OVER (PARTITION BY attribute ORDER BY sessions DESC, value) <= $limit
ORDER BY attribute, sessions DESC, value

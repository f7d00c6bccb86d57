WITH
attributes AS (
    -- all turns of the sessions started in the window, not only the turns in it
    SELECT t.bot_id, t.locale_id, t.session_id, t.originating_request_id,
           unnest(t.session_attributes) AS pair
    FROM main.turns t
    SEMI JOIN sessions s USING (bot_id, locale_id, session_id, originating_request_id)
), pairs AS (
    SELECT DISTINCT bot_id, locale_id, session_id, originating_request_id,
           pair."key" AS attribute, pair."value" AS value
    FROM attributes
    WHERE pair."value" IS NOT NULL AND pair."value" <> ''
), counts AS (
    SELECT attribute, value, count(*) AS sessions FROM pairs GROUP BY ALL
)
SELECT attribute, value, sessions
FROM counts
QUALIFY row_number() OVER (PARTITION BY attribute ORDER BY sessions DESC, value) <= $limit
ORDER BY attribute, sessions DESC, value

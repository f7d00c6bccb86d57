WITH
    -- per (utterance, session) first: distinct sessions are then a plain count, much
    -- cheaper than count(DISTINCT key) over every missed turn
    per_session AS (
    SELECT utterance, bot_id, locale_id, session_id, originating_request_id,
           count(*) AS turns, max(ts) AS last_ts
    FROM turns
    WHERE missed AND utterance IS NOT NULL
    GROUP BY ALL
)
SELECT utterance,
       sum(turns)::BIGINT AS "count",
       count(*) AS sessions,
       max(last_ts) AS last_seen
FROM per_session
GROUP BY utterance
ORDER BY "count" DESC, utterance
LIMIT $limit

SELECT utterance,
       count(*) AS "count",
       count(DISTINCT (bot_id, locale_id, session_id, originating_request_id)) AS sessions,
       max(ts) AS last_seen
FROM turns
WHERE missed AND utterance IS NOT NULL
GROUP BY utterance
ORDER BY "count" DESC, utterance
LIMIT $limit

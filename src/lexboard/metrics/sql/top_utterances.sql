WITH
by_intent AS (
    SELECT utterance, intent, count(*) AS n
    FROM turns
    WHERE utterance IS NOT NULL AND intent IS NOT NULL
    GROUP BY ALL
), top_intents AS (
    -- most frequent non-null intent; ties go to the alphabetically first
    SELECT utterance, first(intent ORDER BY n DESC, intent) AS top_intent
    FROM by_intent
    GROUP BY utterance
)
SELECT t.utterance, count(*) AS "count", i.top_intent, count_if(t.missed) AS missed
FROM turns t
LEFT JOIN top_intents i ON i.utterance = t.utterance
WHERE t.utterance IS NOT NULL
GROUP BY t.utterance, i.top_intent
ORDER BY "count" DESC, t.utterance
LIMIT $limit

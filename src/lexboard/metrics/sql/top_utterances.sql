WITH
counts AS (
    -- one string column per group key keeps this scan cheap; the top intent is then found
    -- among the turns of the `limit` chosen utterances only
    SELECT utterance, count(*) AS "count", count_if(missed) AS missed
    FROM turns
    WHERE utterance IS NOT NULL
    GROUP BY utterance
    ORDER BY "count" DESC, utterance
    LIMIT $limit
), by_intent AS (
    SELECT utterance, intent, count(*) AS n
    FROM turns SEMI JOIN counts USING (utterance)
    WHERE intent IS NOT NULL
    GROUP BY ALL
), top_intents AS (
    -- most frequent non-null intent; ties go to the alphabetically first
    SELECT utterance, arg_min(intent, (-n, intent)) AS top_intent
    FROM by_intent
    GROUP BY utterance
)
SELECT c.utterance, c."count", i.top_intent, c.missed
FROM counts c
LEFT JOIN top_intents i USING (utterance)
ORDER BY c."count" DESC, c.utterance

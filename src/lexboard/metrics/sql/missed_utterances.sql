WITH
counts AS (
    -- missed_turns: the missed turns with an utterance, in the window and matching the
    -- filters, each with its session's surrogate number (store/sessions.py)
    SELECT utterance, count(*) AS "count", max(ts) AS last_seen
    FROM missed_turns
    GROUP BY utterance
    ORDER BY "count" DESC, utterance
    LIMIT $limit
), per_session AS (
    -- distinct sessions of the chosen utterances only
    SELECT DISTINCT utterance, session_no FROM missed_turns SEMI JOIN counts USING (utterance)
), sessions_per_utterance AS (
    SELECT utterance, count(*) AS sessions FROM per_session GROUP BY utterance
)
SELECT c.utterance, c."count", s.sessions, c.last_seen
FROM counts c
JOIN sessions_per_utterance s USING (utterance)
ORDER BY c."count" DESC, c.utterance

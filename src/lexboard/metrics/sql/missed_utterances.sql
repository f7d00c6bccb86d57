WITH
missed AS (
    -- missed_turns holds each session's missed turns that have an utterance, with the
    -- session's surrogate number, kept current at ingest (store/sessions.py)
    SELECT utterance, ts, session_no
    FROM main.missed_turns
    WHERE ts >= $window_from AND ts < $window_to
      AND ($bot_id IS NULL OR bot_id = $bot_id)
      AND ($locale_id IS NULL OR locale_id = $locale_id)
      AND ($alias_id IS NULL OR alias_id = $alias_id)
      AND ($input_mode IS NULL OR input_mode = $input_mode)
), counts AS (
    SELECT utterance, count(*) AS "count", max(ts) AS last_seen
    FROM missed
    GROUP BY utterance
    ORDER BY "count" DESC, utterance
    LIMIT $limit
), per_session AS (
    -- distinct sessions of the chosen utterances only
    SELECT DISTINCT utterance, session_no FROM missed SEMI JOIN counts USING (utterance)
), sessions_per_utterance AS (
    SELECT utterance, count(*) AS sessions FROM per_session GROUP BY utterance
)
SELECT c.utterance, c."count", s.sessions, c.last_seen
FROM counts c
JOIN sessions_per_utterance s USING (utterance)
ORDER BY c."count" DESC, c.utterance

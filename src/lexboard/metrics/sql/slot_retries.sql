WITH
window_sessions AS (
    SELECT DISTINCT bot_id, locale_id, session_id, originating_request_id FROM turns
), previous AS (
    -- the previous turn over all of the session's turns, unfiltered
    SELECT t.request_id,
           lag(t.dialog_action) OVER w AS prev_action,
           lag(t.intent) OVER w AS prev_intent,
           lag(t.slot_to_elicit) OVER w AS prev_slot
    FROM main.turns t
    SEMI JOIN window_sessions USING (bot_id, locale_id, session_id, originating_request_id)
    WINDOW w AS (PARTITION BY t.bot_id, t.locale_id, t.session_id, t.originating_request_id
                 ORDER BY t.ts, t.request_id)
), elicitations AS (
    SELECT t.intent, t.slot_to_elicit AS slot,
           coalesce(p.prev_action = 'ElicitSlot' AND p.prev_intent = t.intent
                    AND p.prev_slot = t.slot_to_elicit, false) AS retry
    FROM turns t
    JOIN previous p ON p.request_id = t.request_id
    WHERE t.dialog_action = 'ElicitSlot' AND t.intent IS NOT NULL AND t.slot_to_elicit IS NOT NULL
)
SELECT intent, slot, count(*) AS elicitations, count_if(retry) AS retries
FROM elicitations
GROUP BY ALL
ORDER BY retries DESC, elicitations DESC, intent, slot

WITH
    -- sessions.elicitations lists each session's ElicitSlot turns with their retry flag,
    -- computed at ingest over all of the session's turns (store/sessions.py); here only the
    -- eliciting turn must be in the window and match the filters
    overlapping AS (
    SELECT unnest(elicitations) AS e
    FROM main.sessions
    WHERE end_ts >= $window_from AND start_ts < $window_to
      AND ($bot_id IS NULL OR bot_id = $bot_id)
      AND ($locale_id IS NULL OR locale_id = $locale_id)
)
SELECT e.intent AS intent, e.slot AS slot, count(*) AS elicitations,
       count(*) FILTER (WHERE e.retry) AS retries
FROM overlapping
WHERE e.ts >= $window_from AND e.ts < $window_to
  AND ($alias_id IS NULL OR e.alias_id = $alias_id)
  AND ($input_mode IS NULL OR e.input_mode = $input_mode)
GROUP BY ALL
ORDER BY retries DESC, elicitations DESC, intent, slot

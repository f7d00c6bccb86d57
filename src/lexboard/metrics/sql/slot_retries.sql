SELECT intent, slot, count(*) AS elicitations, count(*) FILTER (WHERE retry) AS retries
-- elicitations holds the ElicitSlot turns with their retry flag, computed at ingest over
-- all of the session's turns (store/sessions.py); here only the eliciting turn must be in
-- the window and match the filters
FROM main.elicitations
WHERE ts >= $window_from AND ts < $window_to
  AND ($bot_id IS NULL OR bot_id = $bot_id)
  AND ($locale_id IS NULL OR locale_id = $locale_id)
  AND ($alias_id IS NULL OR alias_id = $alias_id)
  AND ($input_mode IS NULL OR input_mode = $input_mode)
GROUP BY ALL
ORDER BY retries DESC, elicitations DESC, intent, slot

SELECT ts, session_id, transcript, intent, missed, input_mode
FROM turns
WHERE (NOT $missed_only OR missed)
  AND ($q IS NULL OR $q = '' OR contains(lower(transcript), lower($q)))
ORDER BY ts DESC, request_id
LIMIT $limit

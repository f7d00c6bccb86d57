SELECT intent, slot, count(*) AS elicitations, count(*) FILTER (WHERE retry) AS retries
-- elicitations: the ElicitSlot turns in the window that match the filters, with a retry
-- flag computed at ingest over all of the session's turns (store/sessions.py)
FROM elicitations
GROUP BY ALL
ORDER BY retries DESC, elicitations DESC, intent, slot

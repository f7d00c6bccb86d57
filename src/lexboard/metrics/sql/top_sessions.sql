SELECT session_id,
       originating_request_id,
       start_ts AS "start",
       end_ts AS "end",
       duration_s,
       turns,
       missed
FROM sessions
ORDER BY turns DESC, duration_s DESC, session_id, originating_request_id, bot_id, locale_id
LIMIT $limit

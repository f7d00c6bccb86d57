WITH
cells AS (
    SELECT d AS day_of_week, h AS hour
    FROM range(7) AS days(d), range(0, 24, $block_hours) AS hours(h)
), counts AS (
    SELECT isodow(start_ts) - 1 AS day_of_week,
           hour(start_ts) // $block_hours * $block_hours AS hour,
           count(*) AS sessions
    FROM sessions
    GROUP BY ALL
)
SELECT c.day_of_week, c.hour, coalesce(n.sessions, 0) AS sessions
FROM cells c
LEFT JOIN counts n ON n.day_of_week = c.day_of_week AND n.hour = c.hour
ORDER BY c.day_of_week, c.hour

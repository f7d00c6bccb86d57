WITH
cells AS (
    SELECT d AS day_of_week, h AS hour
    FROM range(7) AS days(d), range(0, 24, $block_hours) AS hours(h)
), grains AS (
    -- per 15-minute UTC grain first: a grain lies within one local hour and weekday
    SELECT make_timestamptz(epoch_us(start_ts) // 900000000 * 900000000) AS grain,
           count(*) AS sessions
    FROM sessions GROUP BY 1
), counts AS (
    SELECT isodow(grain) - 1 AS day_of_week,
           hour(grain) // $block_hours * $block_hours AS hour,
           sum(sessions)::BIGINT AS sessions
    FROM grains
    GROUP BY ALL
)
SELECT c.day_of_week, c.hour, coalesce(n.sessions, 0) AS sessions
FROM cells c
LEFT JOIN counts n ON n.day_of_week = c.day_of_week AND n.hour = c.hour
ORDER BY c.day_of_week, c.hour

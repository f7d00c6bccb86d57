WITH
-- activity: turns, missed turns and session starts per time bucket, every bucket of the
-- window present (zero-filled). Sub-day buckets truncate the tz wall-clock time of an
-- instant and keep that instant's UTC offset (a repeated DST hour gives two buckets, a
-- skipped one none); 1d buckets run from local midnight (or the first instant of the day
-- when midnight is skipped) to the next. Session TimeZone = tz, so casting TIMESTAMPTZ to
-- TIMESTAMP or DATE gives tz wall-clock time.
spec AS (
    SELECT CASE $bucket WHEN '1m' THEN INTERVAL 1 MINUTE
                        WHEN '5m' THEN INTERVAL 5 MINUTE
                        WHEN '15m' THEN INTERVAL 15 MINUTE
                        WHEN '1h' THEN INTERVAL 1 HOUR END AS width,  -- NULL: 1d
           CASE $bucket WHEN '1m' THEN 60000000 WHEN '5m' THEN 300000000
                        ELSE 900000000 END::BIGINT AS step_us,
           epoch_us($window_from) AS from_us,
           epoch_us($window_to) AS to_us
), samples AS (
    -- from itself and every UTC multiple of step_us in [from, to): every sub-day bucket
    -- overlapping the window holds one of them (UTC offsets are multiples of 15 minutes)
    SELECT $window_from AS x FROM spec WHERE width IS NOT NULL AND from_us < to_us
    UNION ALL
    SELECT make_timestamptz(unnest(range(from_us + (step_us - from_us % step_us) % step_us,
                                         to_us, step_us))) AS x
    FROM spec WHERE width IS NOT NULL
), sub_day_buckets AS (
    SELECT DISTINCT make_timestamptz(
               epoch_us(time_bucket(width, x::TIMESTAMP))
               - (epoch_us(x::TIMESTAMP) - epoch_us(x))) AS bucket
    FROM samples, spec
), days AS (
    SELECT unnest(range(($window_from::TIMESTAMP)::DATE::TIMESTAMP,
                        (make_timestamptz(to_us - 1)::TIMESTAMP)::DATE::TIMESTAMP
                            + INTERVAL 1 DAY,
                        INTERVAL 1 DAY)) AS midnight
    FROM spec WHERE width IS NULL AND from_us < to_us
), day_candidates AS (
    -- local midnight read with the UTC offset in force a day before and a day after it
    SELECT midnight,
           make_timestamptz(epoch_us(midnight) - (epoch_us(probe::TIMESTAMP) - epoch_us(probe)))
               AS candidate
    FROM (
        SELECT midnight,
               unnest([make_timestamptz(epoch_us(midnight) - 86400000000),
                       make_timestamptz(epoch_us(midnight) + 86400000000)]) AS probe
        FROM days
    )
), day_buckets AS (
    -- a day starts at the earliest candidate that falls on that local date: the first
    -- midnight when it repeats, the first instant after the gap when it is skipped
    SELECT midnight::DATE AS day, min(candidate) AS bucket
    FROM day_candidates
    WHERE candidate::DATE = midnight::DATE
    GROUP BY ALL
), buckets AS (
    SELECT bucket FROM sub_day_buckets
    UNION ALL
    SELECT bucket FROM day_buckets
), turn_grains AS (
    -- turns counted per UTC grain of step_us first: bucket edges (and DST changes) fall on
    -- grain edges, so every instant of a grain lands in the bucket of the grain's start,
    -- and the time zone arithmetic below runs per grain instead of per turn
    SELECT make_timestamptz(epoch_us(ts) // step_us * step_us) AS ts,
           count(*) AS requests, count(*) FILTER (WHERE missed) AS missed
    FROM turns, spec WHERE $bucket IN ('1m', '5m') GROUP BY 1
    UNION ALL  -- 15-minute buckets and up: the counted 15-minute grains
    SELECT grain_start AS ts,
           sum(requests) AS requests, coalesce(sum(requests) FILTER (WHERE missed), 0) AS missed
    FROM turn_counts WHERE $bucket NOT IN ('1m', '5m') GROUP BY 1
), session_grains AS (
    SELECT make_timestamptz(epoch_us(start_ts) // step_us * step_us) AS ts,
           count(*) AS sessions
    FROM sessions, spec GROUP BY 1
), turn_buckets AS (
    SELECT make_timestamptz(
               epoch_us(time_bucket(width, ts::TIMESTAMP))
               - (epoch_us(ts::TIMESTAMP) - epoch_us(ts))) AS bucket,
           requests, missed
    FROM turn_grains, spec WHERE width IS NOT NULL
    UNION ALL
    SELECT d.bucket, t.requests, t.missed FROM turn_grains t JOIN day_buckets d ON d.day = t.ts::DATE
), session_buckets AS (
    SELECT make_timestamptz(
               epoch_us(time_bucket(width, ts::TIMESTAMP))
               - (epoch_us(ts::TIMESTAMP) - epoch_us(ts))) AS bucket,
           sessions
    FROM session_grains, spec WHERE width IS NOT NULL
    UNION ALL
    SELECT d.bucket, s.sessions FROM session_grains s JOIN day_buckets d ON d.day = s.ts::DATE
), bucket_requests AS (
    SELECT bucket, sum(requests)::BIGINT AS requests, sum(missed)::BIGINT AS missed
    FROM turn_buckets GROUP BY bucket
), session_counts AS (
    SELECT bucket, sum(sessions)::BIGINT AS sessions FROM session_buckets GROUP BY bucket
)
SELECT b.bucket,
       coalesce(t.requests, 0) AS requests,
       coalesce(s.sessions, 0) AS sessions,
       coalesce(t.missed, 0) AS missed
FROM buckets b
LEFT JOIN bucket_requests t ON t.bucket = b.bucket
LEFT JOIN session_counts s ON s.bucket = b.bucket
ORDER BY b.bucket

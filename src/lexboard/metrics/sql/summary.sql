WITH turn_totals AS (
    SELECT coalesce(sum(requests), 0)::BIGINT AS requests,
           coalesce(sum(requests) FILTER (WHERE missed), 0)::BIGINT AS missed
    FROM turn_counts
), session_totals AS (
    SELECT count(*) AS sessions,
           avg(duration_s) AS avg_session_duration_s,
           avg(turns)::DOUBLE AS avg_turns_per_session
    FROM sessions
)
SELECT
    requests,
    sessions,
    missed,
    CASE WHEN requests > 0 THEN missed / requests END AS missed_rate,
    avg_session_duration_s,
    avg_turns_per_session
FROM turn_totals, session_totals

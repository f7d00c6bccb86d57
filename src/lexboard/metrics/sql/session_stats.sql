SELECT count(*) AS sessions,
       avg(duration_s) AS avg_duration_s,
       quantile_cont(duration_s, 0.5) AS p50_duration_s,
       quantile_cont(duration_s, 0.9) AS p90_duration_s,
       max(duration_s) AS max_duration_s,
       avg(turns)::DOUBLE AS avg_turns,
       quantile_cont(turns::DOUBLE, 0.5) AS p50_turns,
       quantile_cont(turns::DOUBLE, 0.9) AS p90_turns,
       max(turns) AS max_turns
FROM sessions

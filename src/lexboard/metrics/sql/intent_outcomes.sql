WITH
by_runs AS (
    -- sessions counted per distinct run sequence first (sessions.runs is text: each run
    -- is intent, chr(31), final state; runs are joined by chr(30))
    SELECT runs, count(*) AS n FROM sessions WHERE runs <> '' GROUP BY runs
), parsed AS (
    SELECT n, list_transform(string_split(runs, chr(30)), lambda r: string_split(r, chr(31)))
               AS session_runs
    FROM by_runs
), numbered AS (
    SELECT n, session_runs, unnest(range(1, len(session_runs) + 1)) AS i FROM parsed
), classified AS (
    SELECT n, session_runs[i][1] AS intent,
           CASE WHEN session_runs[i][2] IN ('Fulfilled', 'ReadyForFulfillment')
                THEN 'success'
                WHEN session_runs[i][2] = 'Failed'
                  OR session_runs[i + 1][1] = 'FallbackIntent'
                THEN 'failed'
                WHEN i < len(session_runs) THEN 'switched'
                ELSE 'dropped' END AS outcome
    FROM numbered
)
SELECT intent,
       sum(n)::BIGINT AS runs,
       coalesce(sum(n) FILTER (WHERE outcome = 'success'), 0)::BIGINT AS success,
       coalesce(sum(n) FILTER (WHERE outcome = 'failed'), 0)::BIGINT AS failed,
       coalesce(sum(n) FILTER (WHERE outcome = 'switched'), 0)::BIGINT AS switched,
       coalesce(sum(n) FILTER (WHERE outcome = 'dropped'), 0)::BIGINT AS dropped
FROM classified
WHERE intent <> 'FallbackIntent'
GROUP BY intent
ORDER BY runs DESC, intent

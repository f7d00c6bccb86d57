WITH
grouped AS (
    -- sessions counted per distinct run sequence first (sessions.runs is text: each run
    -- is intent, chr(31), final state; runs are joined by chr(30))
    SELECT end_ts > $now - to_seconds($idle_timeout_s) AS open, runs, count(*) AS n
    FROM sessions
    GROUP BY ALL
), last_runs AS (
    SELECT open, runs, n, string_split(string_split(runs, chr(30))[-1], chr(31)) AS last_run
    FROM grouped
), classified AS (
    SELECT n,
           CASE WHEN open THEN 'in_progress'
                WHEN runs = '' THEN 'dropped'
                WHEN last_run[1] = 'FallbackIntent' THEN 'failure'
                WHEN last_run[2] IN ('Fulfilled', 'ReadyForFulfillment') THEN 'success'
                WHEN last_run[2] = 'Failed' THEN 'failure'
                ELSE 'dropped' END AS outcome
    FROM last_runs
), outcomes AS (
    SELECT * FROM (VALUES ('success', 1), ('failure', 2), ('dropped', 3), ('in_progress', 4))
        AS v(outcome, position)
)
SELECT o.outcome, coalesce(sum(c.n), 0)::BIGINT AS sessions
FROM outcomes o
LEFT JOIN classified c ON c.outcome = o.outcome
GROUP BY o.outcome, o.position
ORDER BY o.position

WITH
classified AS (
    SELECT CASE WHEN end_ts > $now - to_seconds($idle_timeout_s) THEN 'in_progress'
                WHEN len(runs) = 0 THEN 'dropped'
                WHEN runs[-1].intent = 'FallbackIntent' THEN 'failure'
                WHEN runs[-1].final_state IN ('Fulfilled', 'ReadyForFulfillment') THEN 'success'
                WHEN runs[-1].final_state = 'Failed' THEN 'failure'
                ELSE 'dropped' END AS outcome
    FROM sessions
), outcomes AS (
    SELECT * FROM (VALUES ('success', 1), ('failure', 2), ('dropped', 3), ('in_progress', 4))
        AS v(outcome, position)
)
SELECT o.outcome, count(c.outcome) AS sessions
FROM outcomes o
LEFT JOIN classified c ON c.outcome = o.outcome
GROUP BY o.outcome, o.position
ORDER BY o.position

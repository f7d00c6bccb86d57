WITH
numbered AS (
    SELECT runs AS session_runs, unnest(range(1, len(runs) + 1)) AS i FROM sessions
), classified AS (
    SELECT session_runs[i].intent AS intent,
           CASE WHEN session_runs[i].final_state IN ('Fulfilled', 'ReadyForFulfillment')
                THEN 'success'
                WHEN session_runs[i].final_state = 'Failed'
                  OR session_runs[i + 1].intent = 'FallbackIntent'
                THEN 'failed'
                WHEN i < len(session_runs) THEN 'switched'
                ELSE 'dropped' END AS outcome
    FROM numbered
)
SELECT intent,
       count(*) AS runs,
       count_if(outcome = 'success') AS success,
       count_if(outcome = 'failed') AS failed,
       count_if(outcome = 'switched') AS switched,
       count_if(outcome = 'dropped') AS dropped
FROM classified
WHERE intent <> 'FallbackIntent'
GROUP BY intent
ORDER BY runs DESC, intent

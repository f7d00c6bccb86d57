WITH
cut AS (
    SELECT list_transform(runs[1:$max_steps], lambda r: r.intent) AS steps
    FROM sessions
    WHERE len(runs) > 0
), numbered AS (
    SELECT steps, unnest(range(0, len(steps) + 1)) AS step FROM cut
), links AS (
    -- step 0: START to the first intent; step i: intent i to intent i + 1; last: to END
    SELECT step,
           CASE WHEN step = 0 THEN 'START' ELSE steps[step] END AS source,
           CASE WHEN step = len(steps) THEN 'END' ELSE steps[step + 1] END AS target
    FROM numbered
)
SELECT step, source, target, count(*) AS sessions
FROM links
GROUP BY ALL
ORDER BY step, sessions DESC, source, target

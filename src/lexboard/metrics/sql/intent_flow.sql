WITH
full_paths AS (
    -- sessions counted per distinct path first (paths repeat a lot; sessions.path is text,
    -- the intents joined by " > ")
    SELECT path, count(*) AS n
    FROM sessions
    WHERE path <> ''
    GROUP BY path
), cut AS (
    SELECT string_split(path, ' > ')[1:$max_steps] AS steps, n FROM full_paths
), numbered AS (
    SELECT steps, n, unnest(range(0, len(steps) + 1)) AS step FROM cut
), links AS (
    -- step 0: START to the first intent; step i: intent i to intent i + 1; last: to END
    SELECT step, n,
           CASE WHEN step = 0 THEN 'START' ELSE steps[step] END AS source,
           CASE WHEN step = len(steps) THEN 'END' ELSE steps[step + 1] END AS target
    FROM numbered
)
SELECT step, source, target, sum(n)::BIGINT AS sessions
FROM links
GROUP BY ALL
ORDER BY step, sessions DESC, source, target

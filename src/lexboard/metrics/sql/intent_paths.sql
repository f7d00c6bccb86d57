WITH
cut AS (
    SELECT list_transform(runs[1:$max_steps], lambda r: r.intent) AS steps FROM sessions
)
SELECT array_to_string(steps, ' > ') AS path, count(*) AS sessions
FROM cut
WHERE len(steps) > 0
GROUP BY path
ORDER BY sessions DESC, path
LIMIT $limit

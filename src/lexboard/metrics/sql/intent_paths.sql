WITH
cut AS (
    -- sessions counted per distinct cut path first (paths repeat a lot)
    SELECT path[1:$max_steps] AS steps, count(*) AS n
    FROM sessions
    WHERE len(path) > 0
    GROUP BY 1
)
SELECT array_to_string(steps, ' > ') AS path, sum(n)::BIGINT AS sessions
FROM cut
GROUP BY path
ORDER BY sessions DESC, path
LIMIT $limit

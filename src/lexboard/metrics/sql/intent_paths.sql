WITH
full_paths AS (
    -- sessions counted per distinct path first (paths repeat a lot; sessions.path is text,
    -- the intents joined by " > ")
    SELECT path, count(*) AS n
    FROM sessions
    WHERE path <> ''
    GROUP BY path
), cut AS (
    SELECT array_to_string(string_split(path, ' > ')[1:$max_steps], ' > ') AS path, n
    FROM full_paths
)
SELECT path, sum(n)::BIGINT AS sessions
FROM cut
GROUP BY path
ORDER BY sessions DESC, path
LIMIT $limit

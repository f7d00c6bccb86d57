SELECT intent, hour(ts) AS hour, count(*) AS requests
FROM turns
WHERE intent IS NOT NULL
GROUP BY ALL
ORDER BY intent, hour

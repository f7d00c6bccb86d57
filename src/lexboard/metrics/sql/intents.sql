SELECT intent, count(*) AS requests, count_if(missed) AS missed
FROM turns
WHERE intent IS NOT NULL
GROUP BY intent
ORDER BY requests DESC, intent

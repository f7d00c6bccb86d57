SELECT sentiment, count(*) AS requests
FROM turns
WHERE sentiment IS NOT NULL
GROUP BY sentiment
ORDER BY requests DESC, sentiment

SELECT sentiment, sum(requests)::BIGINT AS requests
FROM turn_counts
WHERE sentiment IS NOT NULL
GROUP BY sentiment
ORDER BY requests DESC, sentiment

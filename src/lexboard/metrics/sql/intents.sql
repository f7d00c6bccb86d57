SELECT intent, sum(requests)::BIGINT AS requests,
       coalesce(sum(requests) FILTER (WHERE missed), 0)::BIGINT AS missed
FROM turn_counts
WHERE intent IS NOT NULL
GROUP BY intent
ORDER BY requests DESC, intent

SELECT input_mode, sum(requests)::BIGINT AS requests
FROM turn_counts
GROUP BY input_mode
ORDER BY requests DESC, input_mode NULLS LAST

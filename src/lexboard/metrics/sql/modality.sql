SELECT input_mode, count(*) AS requests
FROM turns
GROUP BY input_mode
ORDER BY requests DESC, input_mode NULLS LAST

WITH
    -- turns per 15-minute UTC grain (UTC offsets and DST changes fall on quarter hours,
    -- so a grain lies within one local hour); hour() then runs per grain
    grains AS (
    SELECT intent, grain_start AS grain, sum(requests) AS requests
    FROM turn_counts
    WHERE intent IS NOT NULL
    GROUP BY ALL
)
SELECT intent, hour(grain) AS hour, sum(requests)::BIGINT AS requests
FROM grains
GROUP BY ALL
ORDER BY intent, hour

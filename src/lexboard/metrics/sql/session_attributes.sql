WITH
pairs AS (
    -- session_attributes holds each session's distinct non-empty (attribute, value) pairs
    -- over all its turns, kept current at ingest (store/sessions.py). Without an alias or
    -- input-mode filter the rows' own columns decide; with one, the filtered sessions do
    -- (a session matches through any of its turns).
    SELECT attribute, value
    FROM main.session_attributes
    WHERE start_ts >= $window_from AND start_ts < $window_to
      AND ($bot_id IS NULL OR bot_id = $bot_id)
      AND ($locale_id IS NULL OR locale_id = $locale_id)
      AND $alias_id IS NULL AND $input_mode IS NULL
    UNION ALL
    SELECT attribute, value
    FROM main.session_attributes SEMI JOIN sessions USING (session_no)
    WHERE NOT ($alias_id IS NULL AND $input_mode IS NULL)
), counts AS (
    SELECT attribute, value, count(*) AS sessions
    FROM pairs GROUP BY ALL
), top AS (
    -- the limit first values of each attribute in (sessions desc, value asc) order; a
    -- bounded heap per attribute instead of a window sort over every value (an attribute
    -- such as a contact id has as many values as sessions)
    SELECT attribute,
           unnest(min_by({'value': value, 'sessions': sessions},
                         {'sessions': -sessions, 'value': value}, $limit)) AS pick
    FROM counts GROUP BY attribute
)
SELECT attribute, pick.value AS value, pick.sessions AS sessions
FROM top
ORDER BY attribute, sessions DESC, value

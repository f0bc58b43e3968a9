-- Imports take off the apostrophe that exports put before a formula-like cell
-- (crmferry.exports.formulas) wherever exports put it: before = + - @ as in
-- migration 0006, and also before a tab or a carriage return (after any further
-- quotes). A record's text exported to CSV and imported back is the text it was.
CREATE OR REPLACE FUNCTION crmferry_clean_quoted(v text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN left(t, 1) = ''''
                 AND left(ltrim(t, ''''), 1) IN ('=', '+', '-', '@', E'\t', E'\r')
                THEN substr(t, 2)
                ELSE t END
      FROM (SELECT nullif(btrim(v, E' \t\r\n\u00A0'), '') AS t) AS trimmed
$$;

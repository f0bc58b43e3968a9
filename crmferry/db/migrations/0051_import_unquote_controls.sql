-- The exports' formula rule now looks through the control characters a spreadsheet
-- never shows (those XML cannot hold) as it looks through quotes, so an import takes
-- the exports' apostrophe off where, after quotes and such characters in any mix, the
-- cell goes on with = + - @, a tab or a carriage return (crmferry.exports.formulas).
-- A record's text exported to CSV and imported back is still the text it was.
CREATE OR REPLACE FUNCTION crmferry_clean_quoted(v text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN left(t, 1) = ''''
                 AND left(ltrim(t, E'''\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f'), 1)
                     IN ('=', '+', '-', '@', E'\t', E'\r')
                THEN substr(t, 2)
                ELSE t END
      FROM (SELECT nullif(btrim(v, E' \t\r\n\u00A0'), '') AS t) AS trimmed
$$;

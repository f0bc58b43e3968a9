-- Imports: cell parsers used by the set-based validation of a staged file.
-- Each returns NULL when the text is not a valid value of its type, so one
-- expression both converts a column and tells which cells are bad. All are
-- IMMUTABLE and never raise, whatever the input.

-- Trimmed, with empty meaning absent (spaces, tabs, line breaks, no-break spaces),
-- and the apostrophe our exports put before a formula-like cell taken off again
-- (the inverse of exports' neutralise_formula), so an export imports back unchanged.
CREATE FUNCTION crmferry_clean_quoted(v text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN left(t, 1) = '''' AND left(ltrim(t, ''''), 1) IN ('=', '+', '-', '@')
                THEN substr(t, 2)
                ELSE t END
      FROM (SELECT nullif(btrim(v, E' \t\r\n\u00A0'), '') AS t) AS trimmed
$$;

-- One expression over a plain argument, so the planner inlines it: most cells
-- hold no apostrophe and never pay for the function call above.
CREATE FUNCTION crmferry_clean(v text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN strpos(v, '''') = 0 THEN nullif(btrim(v, E' \t\r\n\u00A0'), '')
                ELSE crmferry_clean_quoted(v) END
$$;

-- A pragmatic address check on an already lower-cased value: a local part and
-- a dotted domain of any characters but spaces, quotes, brackets and separators
-- (so letters of any script pass), no empty dot-separated part. Written without
-- bounded repeats: PostgreSQL's regex engine makes those slow on millions of rows.
CREATE FUNCTION crmferry_email_ok(v text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT v ~ '^[^\s@"(),:;<>\[\]\\]+@[^\s@"(),:;<>\[\]\\.]+(\.[^\s@"(),:;<>\[\]\\.]+)+$'
       AND strpos(v, '..') = 0 AND strpos(v, '.@') = 0 AND left(v, 1) <> '.'
$$;

-- Digits with the usual punctuation, an optional leading +, an optional
-- extension ("x12", "ext. 12", "#12"); 7 to 15 digits before the extension.
CREATE FUNCTION crmferry_phone_ok(v text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN v ~ '^\+?[0-9 ().\-/]+$'
            THEN length(translate(v, '+ ().-/', '')) BETWEEN 7 AND 15
        WHEN lower(v) ~ '^\+?[0-9 ().\-/]+(ext\.?|x|#) *[0-9]+$'
            THEN length(translate(regexp_replace(lower(v), '(ext\.?|x|#) *[0-9]+$', ''),
                                  '+ ().-/', '')) BETWEEN 7 AND 15
        ELSE false
    END
$$;

-- A number written with `mark` ('.' or ',') as the decimal mark; the other mark
-- is accepted only as a thousands separator in groups of three. Spaces,
-- apostrophes and currency signs are ignored ("$1,234.50", "1 234,5", "1'000").
CREATE FUNCTION crmferry_parse_decimal(v text, mark text) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN s !~ '[0-9]' OR length(s) > 40 THEN NULL
        WHEN mark = ',' AND s ~ '^[+-]?([0-9]+|[0-9]{1,3}(\.[0-9]{3})+)?(,[0-9]+)?$'
            THEN replace(replace(s, '.', ''), ',', '.')::numeric
        WHEN mark <> ',' AND s ~ '^[+-]?([0-9]+|[0-9]{1,3}(,[0-9]{3})+)?(\.[0-9]+)?$'
            THEN replace(s, ',', '')::numeric
    END
      FROM (SELECT regexp_replace(v, E'[\\s''$€£¥\u00A0]', '', 'g') AS s) AS x
$$;

-- A whole number in integer's range (thousands separators as above).
CREATE FUNCTION crmferry_parse_integer(v text, mark text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN d = trunc(d) AND abs(d) <= 2147483647 THEN d::integer END
      FROM (SELECT crmferry_parse_decimal(v, mark) AS d) AS x
$$;

-- A calendar date in one of the three accepted layouts; impossible dates
-- (31/02/2024, month 13) are NULL. ISO dates may carry a midnight time, as
-- spreadsheets write them.
CREATE FUNCTION crmferry_parse_date(v text, fmt text) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN p IS NULL THEN NULL
        WHEN p[1]::int < 1 OR p[2]::int NOT BETWEEN 1 AND 12 OR p[3]::int < 1 THEN NULL
        WHEN p[3]::int > extract(day FROM make_date(p[1]::int, p[2]::int, 1)
                                       + interval '1 month' - interval '1 day') THEN NULL
        ELSE make_date(p[1]::int, p[2]::int, p[3]::int)
    END
      FROM (SELECT CASE fmt
          WHEN 'YYYY-MM-DD' THEN regexp_match(
              v, '^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[ T]00:00(?::00(?:\.0+)?)?)?$')
          WHEN 'MM/DD/YYYY' THEN (SELECT ARRAY[m[3], m[1], m[2]]
              FROM regexp_match(v, '^([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})$') AS m)
          WHEN 'DD/MM/YYYY' THEN (SELECT ARRAY[m[3], m[2], m[1]]
              FROM regexp_match(v, '^([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})$') AS m)
      END AS p) AS x
$$;

CREATE FUNCTION crmferry_parse_boolean(v text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN lower(v) IN ('true', 't', 'yes', 'y', '1', 'on', 'x') THEN true
        WHEN lower(v) IN ('false', 'f', 'no', 'n', '0', 'off', '') THEN false
    END
$$;


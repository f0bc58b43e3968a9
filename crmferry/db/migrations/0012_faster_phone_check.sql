-- The same phone rule as migration 0006, faster: once the pattern has shown the
-- value holds only digits and the allowed punctuation, the digits are counted by
-- removing that punctuation with replace(), which costs a third of translate()
-- (a third of a million-row contact import's validation was this function).
CREATE OR REPLACE FUNCTION crmferry_phone_ok(v text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN v ~ '^\+?[0-9 ().\-/]+$'
            THEN octet_length(replace(replace(replace(replace(replace(replace(replace(
                     v, ' ', ''), '(', ''), ')', ''), '.', ''), '-', ''), '/', ''), '+', ''))
                 BETWEEN 7 AND 15
        WHEN lower(v) ~ '^\+?[0-9 ().\-/]+(ext\.?|x|#) *[0-9]+$'
            THEN length(translate(regexp_replace(lower(v), '(ext\.?|x|#) *[0-9]+$', ''),
                                  '+ ().-/', '')) BETWEEN 7 AND 15
        ELSE false
    END
$$;

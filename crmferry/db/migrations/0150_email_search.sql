-- Record search for one e-mail address (`GET /contacts?q=ann.lee@example.com`): an
-- index lookup. As words (0020) an address is four prefixes, and "example" and "com"
-- begin a word of nearly every record: the search index hands back every record of the
-- organization to intersect (about 0.1 s alone at a million contacts, several times that
-- under load). Now a `q` that is one address (no space, one @, a dot in the domain) that
-- some record of the organization has as its e-mail (case-insensitively) finds the
-- records with that address, through the (organization_id, lower(e-mail)) index; an
-- address no record has is searched as words, as before (a partial address still finds
-- what it begins). Whether some record has it does not depend on the cursor, so every
-- page of one search is of the same kind.

-- The e-mail column a record table is searched by address on (NULL: none).
ALTER TABLE crmferry_record_tables ADD COLUMN email_column text;
UPDATE crmferry_record_tables SET email_column = 'email' WHERE table_name = 'contacts';
UPDATE crmferry_record_tables SET email_column = 'contact_email' WHERE table_name = 'bids';

-- contacts has its key's unique index on (organization_id, lower(email)) (0001)
CREATE INDEX bids_contact_email_idx ON bids (organization_id, lower(contact_email));

-- One e-mail address, or NULL: `q` without the spaces around it, when it is one.
CREATE FUNCTION crmferry_search_address(q text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN btrim(q) ~ '^[^[:space:]@]+@[^[:space:]@]+\.[^[:space:]@.]+$'
                THEN btrim(q) END
$$;

-- 0020's statements, and 'address': the records whose e-mail is the address $1, in
-- creation order after ($2, $3), at most $4 (the same parameters as 'found').
CREATE OR REPLACE FUNCTION crmferry_search_statement(record_table text, kind text) RETURNS text
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT format(CASE kind
        WHEN 'window' THEN
            'SELECT array_agg(id ORDER BY created_at, id) FILTER (WHERE hit) AS hits,
                    count(*) AS seen
               FROM (SELECT id, created_at, crmferry_search_document(%2$s)
                                            @@ crmferry_search_query($1) AS hit
                       FROM %1$I
                      WHERE organization_id = crmferry_current_org()
                        AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3::uuid))
                      ORDER BY created_at, id
                      LIMIT 2000) AS next_records'
        WHEN 'found' THEN
            'WITH found AS MATERIALIZED (
                 SELECT id, created_at FROM %1$I
                  WHERE organization_id = crmferry_current_org()
                    AND crmferry_search_document(%2$s) @@ crmferry_search_query($1)
                    AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3::uuid)))
             SELECT id FROM found ORDER BY created_at, id LIMIT $4'
        WHEN 'address' THEN
            'SELECT id FROM %1$I
              WHERE organization_id = crmferry_current_org() AND lower(%3$I) = lower($1)
                AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3::uuid))
              ORDER BY created_at, id LIMIT $4'
        WHEN 'has_address' THEN
            'SELECT EXISTS (SELECT FROM %1$I
                             WHERE organization_id = crmferry_current_org()
                               AND lower(%3$I) = lower($1))'
        END, table_name,
        (SELECT string_agg(quote_ident(c), ', ' ORDER BY n)
           FROM unnest(search_columns) WITH ORDINALITY AS u(c, n)),
        email_column)
      FROM crmferry_record_tables WHERE table_name = record_table
$$;

-- 0020's search, with the address first (see the top of this file).
CREATE OR REPLACE FUNCTION crmferry_search_records(
    record_table text, search_columns text[], q text,
    after_time timestamptz, after_id uuid, max_rows integer
) RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 50
SET search_path = public, pg_temp SET work_mem = '64MB' AS $$
DECLARE
    indexed text[];
    by_address boolean;
    address text := crmferry_search_address(q);
    hits uuid[];
    seen bigint;
BEGIN
    SELECT t.search_columns, t.email_column IS NOT NULL INTO indexed, by_address
      FROM crmferry_record_tables AS t
     WHERE t.table_name = record_table;
    IF indexed IS DISTINCT FROM search_columns THEN
        RAISE EXCEPTION 'the search index of "%" covers %, not %',
            record_table, indexed, search_columns
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF crmferry_current_org() IS NULL OR crmferry_search_query(q) IS NULL THEN
        RETURN;
    END IF;
    IF by_address AND address IS NOT NULL THEN
        EXECUTE crmferry_search_statement(record_table, 'has_address') INTO by_address
            USING address;
        IF by_address THEN
            RETURN QUERY EXECUTE crmferry_search_statement(record_table, 'address')
                USING address, after_time, after_id, max_rows;
            RETURN;
        END IF;
    END IF;
    EXECUTE crmferry_search_statement(record_table, 'window') INTO hits, seen
        USING q, after_time, after_id;
    IF cardinality(hits) >= max_rows OR seen < 2000 THEN
        RETURN QUERY SELECT unnest(hits[1:max_rows]);
        RETURN;
    END IF;
    RETURN QUERY EXECUTE crmferry_search_statement(record_table, 'found')
        USING q, after_time, after_id, max_rows;
END $$;

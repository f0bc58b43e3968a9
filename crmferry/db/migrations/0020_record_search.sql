-- Record search (`GET /contacts?q=`, the records pages): every word of the query is
-- the beginning of a word of one of the type's search fields, case-insensitively.
-- Words are what the text-search parser of the 'simple' configuration finds once
-- `@ . - _ / + '` are read as spaces too, so an e-mail address, a hyphenated name, a
-- SKU or a bid number is several words ("ann.lee@example.com" is ann, lee, example,
-- com; "B-2024-001" is b, 2024, 001). Core PostgreSQL only (no extension), so it runs
-- wherever CRM Ferry does; one GIN index per record table answers it.

-- The searchable words of a record's search fields (NULL fields are skipped).
CREATE FUNCTION crmferry_search_document(VARIADIC fields text[]) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_tsvector('simple', translate(array_to_string(fields, ' '), '@.-_/+''', '       '))
$$;

-- The query matching records that have a word beginning with each word of `q`;
-- NULL (matching nothing) when `q` holds no word at all.
CREATE FUNCTION crmferry_search_query(q text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN count(*) > 0 THEN to_tsquery('simple', string_agg(
               '''' || replace(replace(lexeme, '\', '\\'), '''', '''''') || ''':*', ' & '))
           END
      FROM unnest(to_tsvector('simple', translate(q, '@.-_/+''', '       '))) AS words
$$;

-- The record tables and the columns their search index covers, in its order (the data
-- type descriptions' search_fields; a test checks that they agree).
CREATE TABLE crmferry_record_tables (
    table_name     text PRIMARY KEY,
    search_columns text[] NOT NULL
);
REVOKE ALL ON crmferry_record_tables FROM PUBLIC;
INSERT INTO crmferry_record_tables VALUES
    ('contacts', ARRAY['name', 'email', 'company']),
    ('inventory', ARRAY['sku', 'name', 'category']),
    ('bids', ARRAY['bid_number', 'title', 'contact_email']);

CREATE INDEX contacts_search_idx ON contacts
    USING gin (crmferry_search_document(name, email, company));
CREATE INDEX inventory_search_idx ON inventory
    USING gin (crmferry_search_document(sku, name, category));
CREATE INDEX bids_search_idx ON bids
    USING gin (crmferry_search_document(bid_number, title, contact_email));

-- The two statements crmferry_search_records runs for a record table ($1 the query, $2
-- and $3 the creation time and id to start after or NULL, $4 the row limit):
-- 'window' reads the next 2,000 records in creation order (the creation-order index)
-- and tells which match; 'found' reads every match after the cursor through the
-- search index (MATERIALIZED: all of them, never by walking the creation order).
CREATE FUNCTION crmferry_search_statement(record_table text, kind text) RETURNS text
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
        END, table_name,
        (SELECT string_agg(quote_ident(c), ', ' ORDER BY n)
           FROM unnest(search_columns) WITH ORDINALITY AS u(c, n)))
      FROM crmferry_record_tables WHERE table_name = record_table
$$;

-- The ids of the current organization's records of `record_table` that match `q`, in
-- creation order after (after_time, after_id), at most max_rows of them.
--
-- Why a SECURITY DEFINER function: under row-level security PostgreSQL uses an index
-- only for a condition whose functions are leakproof, and text search's @@ is not, so
-- the application role's search would read the whole table. The function runs as the
-- schema owner (whose policy shows every row), states the organization itself, and
-- hands back ids only: the caller reads the records by id, under its own policy.
-- `search_columns` is the description's list: a search of columns that the index does
-- not cover is refused rather than run slowly.
--
-- Why two statements: a word found in many records fills a page from the next few
-- records in creation order, and one found in few is best found through the index;
-- the planner cannot tell them apart from a prefix, and guessing wrong reads the whole
-- table. So the next 2,000 records are read first; when they hold a page (or are all
-- there is), that is the answer, otherwise the index finds every match after the cursor.
CREATE FUNCTION crmferry_search_records(
    record_table text, search_columns text[], q text,
    after_time timestamptz, after_id uuid, max_rows integer
) RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 50
SET search_path = public, pg_temp SET work_mem = '64MB' AS $$
DECLARE
    indexed text[];
    hits uuid[];
    seen bigint;
BEGIN
    SELECT t.search_columns INTO indexed FROM crmferry_record_tables AS t
     WHERE t.table_name = record_table;
    IF indexed IS DISTINCT FROM search_columns THEN
        RAISE EXCEPTION 'the search index of "%" covers %, not %',
            record_table, indexed, search_columns
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF crmferry_current_org() IS NULL OR crmferry_search_query(q) IS NULL THEN
        RETURN;
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

REVOKE ALL ON FUNCTION crmferry_search_statement(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION crmferry_search_records(text, text[], text, timestamptz, uuid, integer)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crmferry_search_records(text, text[], text, timestamptz, uuid, integer)
    TO crmferry_app;

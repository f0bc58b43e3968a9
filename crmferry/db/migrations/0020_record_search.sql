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

-- The search fields of each type, as crmferry/records/types.py describes them (a test
-- checks with EXPLAIN that each type's search uses its index).
CREATE INDEX contacts_search_idx ON contacts
    USING gin (crmferry_search_document(name, email, company));
CREATE INDEX inventory_search_idx ON inventory
    USING gin (crmferry_search_document(sku, name, category));
CREATE INDEX bids_search_idx ON bids
    USING gin (crmferry_search_document(bid_number, title, contact_email));

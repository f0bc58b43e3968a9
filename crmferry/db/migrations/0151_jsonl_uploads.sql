-- JSON Lines uploads (what our JSON Lines exports write, read back): a format of its own,
-- whose header is not a row of the file (its objects' keys name the columns), so its
-- header row is recorded as 0 and every line keeps its own number.
ALTER TABLE uploads
    DROP CONSTRAINT uploads_format_check,
    ADD CONSTRAINT uploads_format_check CHECK (format IN ('csv', 'xlsx', 'xls', 'ods', 'jsonl')),
    DROP CONSTRAINT uploads_header_row_check,
    ADD CONSTRAINT uploads_header_row_check CHECK (header_row >= 0);

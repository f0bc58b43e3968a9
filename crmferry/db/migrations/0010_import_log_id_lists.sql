-- An import logs the records it inserts as lists of ids, up to 100 per log row,
-- instead of one row each: those rows and their index entries were a fifth of
-- a fresh import's write. Updates keep one row per record, with the previous
-- values. Rows logged before this keep their single record_id.
ALTER TABLE import_changes
    ALTER COLUMN record_id DROP NOT NULL,
    ADD COLUMN record_ids uuid[],
    ADD CONSTRAINT import_changes_one_form
        CHECK ((record_id IS NULL) <> (record_ids IS NULL)
               AND (record_ids IS NULL OR action = 'insert'));

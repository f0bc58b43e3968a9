-- How an upload is read: the header row and the sheet that were detected or chosen
-- (the encoding already has its column), and the workbook formats read besides XLSX.
ALTER TABLE uploads
    ADD COLUMN header_row integer NOT NULL DEFAULT 1 CHECK (header_row >= 1),
    ADD COLUMN sheet text,
    DROP CONSTRAINT uploads_format_check,
    ADD CONSTRAINT uploads_format_check CHECK (format IN ('csv', 'xlsx', 'xls', 'ods'));

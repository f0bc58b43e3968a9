-- A report's footer (Salesforce ends its report exports with a blank line, the totals,
-- a confidentiality line and a copyright) is not data: the upload keeps the last data
-- row it found or was told, and the import reads no row after it. NULL: every row.
ALTER TABLE uploads
    ADD COLUMN last_row integer CHECK (last_row >= 1);

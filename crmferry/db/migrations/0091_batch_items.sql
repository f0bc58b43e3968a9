-- A batch import's per-file results (its job's `items`: file name, data type, counts,
-- error report), written with the job's final status whether it completed or failed.
ALTER TABLE scheduled_jobs ADD COLUMN items jsonb;

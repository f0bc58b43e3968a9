-- The change log's index by record made every logged row a random B-tree insert,
-- about a third of a fresh import's write. Its one reader, the revert's "did a
-- later import change these records?" check, now asks the records themselves:
-- every import write stamps import_job_id, and a revert puts the previous one back.
DROP INDEX import_changes_record_idx;

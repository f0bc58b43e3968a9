-- A job has at most one retry pending or running: ten concurrent retries of one
-- job made ten jobs. Pending duplicates left by that race are cancelled first
-- (the oldest open retry of each job is kept).

UPDATE scheduled_jobs AS j
   SET status = 'cancelled', completed_at = now(), updated_at = now(),
       error_message = 'Cancelled: a duplicate retry of the same job.'
 WHERE j.status = 'pending' AND j.retry_of IS NOT NULL
   AND EXISTS (SELECT 1 FROM scheduled_jobs AS o
                WHERE o.retry_of = j.retry_of AND o.id <> j.id
                  AND o.status IN ('pending', 'processing')
                  AND (o.status = 'processing' OR (o.created_at, o.id) < (j.created_at, j.id)));

CREATE UNIQUE INDEX scheduled_jobs_one_open_retry
    ON scheduled_jobs (retry_of)
 WHERE retry_of IS NOT NULL AND status IN ('pending', 'processing');

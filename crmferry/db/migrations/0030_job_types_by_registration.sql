-- Job types are what the code registers (crmferry/jobs/kinds.py): a job, a template
-- or a schedule of a type no kind registered is refused there, with a message naming
-- the registered ones. Listing them here as well made every new kind a schema change.
ALTER TABLE scheduled_jobs DROP CONSTRAINT IF EXISTS scheduled_jobs_job_type_check;
ALTER TABLE templates DROP CONSTRAINT IF EXISTS templates_job_type_check;
ALTER TABLE schedules DROP CONSTRAINT IF EXISTS schedules_job_type_check;

-- An import schedule's source is kept in its own column; a copy used to be kept in
-- its options as well. Its jobs get it in their options when they are made.
UPDATE schedules SET options = options - 'source' WHERE options ? 'source';

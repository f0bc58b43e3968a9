-- An event's job object carries a batch's per-file results (scheduled_jobs.items, 0091)
-- as stored; `crmferry.jobs.model.shown_job` turns them into the API's `items` and
-- redacts credentials, wherever an event is read (deliveries, webhooks).
CREATE OR REPLACE FUNCTION crmferry_job_payload(j scheduled_jobs) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', j.id::text, 'organization_id', j.organization_id,
        'created_by', j.created_by::text, 'creator_name', j.creator_name,
        'job_type', j.job_type, 'data_type', j.data_type, 'status', j.status,
        'scheduled_time', crmferry_rfc3339(j.scheduled_time),
        'created_at', crmferry_rfc3339(j.created_at),
        'started_at', crmferry_rfc3339(j.started_at),
        'completed_at', crmferry_rfc3339(j.completed_at),
        'error_message', j.error_message, 'record_count', j.record_count,
        'file_name', j.file_name, 'priority', j.priority, 'attempts', j.attempts,
        'max_attempts', j.max_attempts, 'cancel_requested', j.cancel_requested,
        'progress', jsonb_build_object('done', j.progress_done, 'total', j.progress_total),
        'counts', '{"inserted": 0, "updated": 0, "unchanged": 0, "skipped": 0, "failed": 0}'::jsonb
                  || coalesce(j.counts, '{}'),
        'options', coalesce(j.options, '{}'), 'mapping', j.mapping, 'timezone', j.timezone,
        'notify', j.notify, 'upload_id', j.upload_id::text, 'template_id', j.template_id::text,
        'schedule_id', j.schedule_id::text, 'occurrence_at', crmferry_rfc3339(j.occurrence_at),
        'retry_of', j.retry_of::text, 'reverts_job_id', j.reverts_job_id::text,
        'updated_at', crmferry_rfc3339(j.updated_at),
        'result_url', CASE WHEN j.result_path IS NOT NULL
                           THEN '/api/v1/jobs/' || j.id || '/result' END,
        'error_report_url', CASE WHEN j.error_report_path IS NOT NULL
                                 THEN '/api/v1/jobs/' || j.id || '/errors' END,
        'items', j.items)
$$;

-- The transactional outbox: every event worth telling is a row of `events`, written
-- by the same transaction as the state change that causes it, so an event exists if
-- and only if that change committed. The workers dispatch undispatched events into
-- delivery jobs (crmferry/notify/dispatch.py); a delivery job carries its event's id
-- (scheduled_jobs.event_id) and one per event, channel (job type) and delivery key
-- can exist.
--
-- Event types: job.completed, job.failed, job.cancelled (a job reached that final
-- status; payload: the job object), schedule.paused (payload: the schedule object);
-- webhook.disabled and export.large are reserved for the webhooks and the audit log.

CREATE TABLE events (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    type            text NOT NULL CHECK (type ~ '^[a-z_]+\.[a-z_]+$'),
    job_id          uuid,
    schedule_id     uuid,
    payload         jsonb NOT NULL,
    -- facts for the dispatch that are not part of the payload (a schedule's outcome
    -- before this run, for "tell me when it changes")
    context         jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    dispatched_at   timestamptz
);
CREATE INDEX events_undispatched_idx ON events (created_at) WHERE dispatched_at IS NULL;
CREATE INDEX events_job_idx ON events (job_id) WHERE job_id IS NOT NULL;
CREATE INDEX events_org_time_idx ON events (organization_id, created_at DESC);

ALTER TABLE events ENABLE ROW LEVEL SECURITY;
ALTER TABLE events FORCE ROW LEVEL SECURITY;
DO $$ BEGIN
    EXECUTE format('CREATE POLICY owner_all ON events TO %I USING (true) WITH CHECK (true)',
                   current_user);
END $$;
CREATE POLICY tenant_isolation ON events TO crmferry_app
    USING (organization_id = crmferry_current_org());
GRANT SELECT, INSERT, UPDATE ON events TO crmferry_app;

-- Delivery jobs: the event they deliver and, within a channel, what they deliver it to
-- (an address, an endpoint; '' when one job serves the whole event).
ALTER TABLE scheduled_jobs ADD COLUMN event_id uuid REFERENCES events ON DELETE CASCADE,
                           ADD COLUMN delivery_key text;
CREATE UNIQUE INDEX scheduled_jobs_one_delivery_idx
    ON scheduled_jobs (event_id, job_type, delivery_key) WHERE event_id IS NOT NULL;

-- Schedules: how their runs went, why one was paused, whom to tell.
ALTER TABLE schedules ADD COLUMN consecutive_failures integer NOT NULL DEFAULT 0,
                      ADD COLUMN last_outcome text
                          CHECK (last_outcome IN ('completed', 'failed')),
                      ADD COLUMN paused_reason text,
                      ADD COLUMN notify jsonb;

-- A member's own preference for the jobs they created (and the schedules they own).
ALTER TABLE memberships ADD COLUMN notify text NOT NULL DEFAULT 'failed'
    CHECK (notify IN ('none', 'failed', 'all'));

-- Timestamps as the API writes them (crmferry.jobs.model.rfc3339): UTC with offset.
CREATE FUNCTION crmferry_rfc3339(p timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p IS NULL THEN NULL
                WHEN extract(microseconds FROM p)::bigint % 1000000 = 0
                THEN to_char(p AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"')
                ELSE to_char(p AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"') END
$$;

-- The job object of an event: the same fields as the API's (crmferry.jobs.model.job_json;
-- tests/notify/test_outbox.py holds the two to one shape).
CREATE FUNCTION crmferry_job_payload(j scheduled_jobs) RETURNS jsonb
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
                                 THEN '/api/v1/jobs/' || j.id || '/errors' END)
$$;

-- The schedule object of an event (crmferry.jobs.schedules.schedule_json).
CREATE FUNCTION crmferry_schedule_payload(s schedules) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', s.id::text, 'organization_id', s.organization_id::text,
        'created_by', s.created_by::text, 'name', s.name, 'job_type', s.job_type,
        'data_type', s.data_type, 'options', coalesce(s.options, '{}'), 'mapping', s.mapping,
        'source', s.source, 'template_id', s.template_id::text, 'cron', s.cron,
        'timezone', s.timezone, 'enabled', s.enabled,
        'next_run_at', CASE WHEN s.enabled THEN crmferry_rfc3339(s.next_run_at) END,
        'last_run_at', crmferry_rfc3339(s.last_run_at), 'last_job_id', s.last_job_id::text,
        'consecutive_failures', s.consecutive_failures, 'last_outcome', s.last_outcome,
        'paused_reason', s.paused_reason, 'notify', s.notify,
        'created_at', crmferry_rfc3339(s.created_at),
        'updated_at', crmferry_rfc3339(s.updated_at))
$$;

-- A job reached a final status: its event, and its schedule's tally, in the same
-- transaction as the status (whichever path wrote it: a worker's finish, a cancel, the
-- sweep of expired leases, a job that could not be made). Delivery jobs (event_id set)
-- tell nobody of themselves. A schedule is paused after
-- crmferry.schedule_max_failures (the workers' CRMFERRY_SCHEDULE_MAX_FAILURES, set on
-- every connection; 5 when unset) failed runs in a row, with a schedule.paused event.
CREATE FUNCTION crmferry_job_outbox() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_schedule schedules;
    v_context jsonb := '{}';
    v_max integer := coalesce(nullif(current_setting('crmferry.schedule_max_failures', true),
                                     '')::integer, 5);
BEGIN
    IF NEW.schedule_id IS NOT NULL AND NEW.status IN ('completed', 'failed') THEN
        SELECT * INTO v_schedule FROM schedules WHERE id = NEW.schedule_id FOR UPDATE;
        IF FOUND THEN
            v_context := jsonb_build_object('schedule_previous_outcome', v_schedule.last_outcome);
            UPDATE schedules
               SET consecutive_failures = CASE WHEN NEW.status = 'failed'
                                               THEN consecutive_failures + 1 ELSE 0 END,
                   last_outcome = NEW.status
             WHERE id = NEW.schedule_id
            RETURNING * INTO v_schedule;
        END IF;
    END IF;
    INSERT INTO events (organization_id, type, job_id, schedule_id, payload, context)
    VALUES (NEW.organization_id::uuid, 'job.' || NEW.status, NEW.id, NEW.schedule_id,
            crmferry_job_payload(NEW), v_context);
    IF v_schedule.id IS NOT NULL AND v_schedule.enabled
       AND v_schedule.consecutive_failures >= v_max THEN
        UPDATE schedules
           SET enabled = false, updated_at = now(),
               paused_reason = format('Paused after %s failed runs in a row; the last: %s',
                                      v_schedule.consecutive_failures,
                                      coalesce(NEW.error_message, 'no reason given'))
         WHERE id = v_schedule.id
        RETURNING * INTO v_schedule;
        INSERT INTO events (organization_id, type, schedule_id, payload, context)
        VALUES (v_schedule.organization_id, 'schedule.paused', v_schedule.id,
                crmferry_schedule_payload(v_schedule),
                jsonb_build_object('reason', 'failures', 'job_id', NEW.id));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER scheduled_jobs_outbox
    AFTER UPDATE OF status ON scheduled_jobs
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          AND NEW.status IN ('completed', 'failed', 'cancelled')
          AND NEW.event_id IS NULL)
    EXECUTE FUNCTION crmferry_job_outbox();

-- The organizations with events waiting for dispatch (the worker then dispatches each
-- in its organization's own transaction, under row security).
CREATE FUNCTION crmferry_event_organizations(p_limit integer)
RETURNS TABLE (organization_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT DISTINCT e.organization_id
      FROM (SELECT organization_id FROM events WHERE dispatched_at IS NULL
             ORDER BY created_at LIMIT p_limit) AS e
$$;
REVOKE ALL ON FUNCTION crmferry_event_organizations(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crmferry_event_organizations(integer) TO crmferry_worker;

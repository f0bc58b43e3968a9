-- Retention of the outbox: events and in-app notifications (with their read marks)
-- are kept CRMFERRY_RETENTION_DAYS, like finished jobs, and pruned by the workers a
-- batch at a time. An event goes only once dispatched and once none of its delivery
-- jobs is still to run (a webhook's retries may take days): deleting it takes its
-- finished delivery jobs and its notifications with it (ON DELETE CASCADE).
-- Notifications older than the window go by themselves too, whatever their event.
CREATE INDEX events_created_idx ON events (created_at);
CREATE INDEX notifications_created_idx ON notifications (created_at);

CREATE FUNCTION crmferry_prune_events(p_days integer, p_batch integer)
RETURNS TABLE (events bigint, notifications bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_events bigint;
    v_notifications bigint;
BEGIN
    IF p_days IS NULL OR p_days < 1 THEN
        RAISE EXCEPTION 'events are kept at least one day; % is not an age to prune at',
                        coalesce(p_days::text, 'NULL')
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_batch IS NULL OR p_batch < 1 THEN
        RAISE EXCEPTION 'a prune batch is at least one row, not %', coalesce(p_batch::text, 'NULL')
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    WITH old AS (
        SELECT n.id FROM notifications AS n
         WHERE n.created_at < now() - make_interval(days => p_days)
         ORDER BY n.created_at
         LIMIT p_batch
           FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM notifications AS n USING old WHERE n.id = old.id RETURNING 1
    )
    SELECT count(*) INTO v_notifications FROM gone;
    WITH old AS (
        SELECT e.id FROM events AS e
         WHERE e.created_at < now() - make_interval(days => p_days)
           AND e.dispatched_at IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM scheduled_jobs AS d
                            WHERE d.event_id = e.id
                              AND d.status NOT IN ('completed', 'failed', 'cancelled'))
         ORDER BY e.created_at
         LIMIT p_batch
           FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM events AS e USING old WHERE e.id = old.id RETURNING 1
    )
    SELECT count(*) INTO v_events FROM gone;
    RETURN QUERY SELECT v_events, v_notifications;
END
$$;
REVOKE EXECUTE ON FUNCTION crmferry_prune_events(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crmferry_prune_events(integer, integer) TO crmferry_worker;

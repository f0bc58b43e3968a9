-- In-app notifications: one row per event and member told of it (the delivery job of
-- the in-app channel inserts them in its own transaction, so a retried delivery adds
-- nothing twice). Each new row notifies its organization's event streams, which
-- forward it to the member's open pages (the bell's count).

CREATE TABLE notifications (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    event_id        uuid NOT NULL REFERENCES events ON DELETE CASCADE,
    type            text NOT NULL,
    title           text NOT NULL,
    body            text NOT NULL DEFAULT '',
    job_id          uuid,
    schedule_id     uuid,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    read_at         timestamptz,
    UNIQUE (event_id, user_id)
);
-- a member's list, newest first, keyset-paged; and the unread count
CREATE INDEX notifications_list_idx
    ON notifications (organization_id, user_id, created_at DESC, id DESC);
CREATE INDEX notifications_unread_idx
    ON notifications (organization_id, user_id) WHERE read_at IS NULL;

ALTER TABLE notifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE notifications FORCE ROW LEVEL SECURITY;
DO $$ BEGIN
    EXECUTE format('CREATE POLICY owner_all ON notifications TO %I USING (true) WITH CHECK (true)',
                   current_user);
END $$;
CREATE POLICY tenant_isolation ON notifications TO crmferry_app
    USING (organization_id = crmferry_current_org());
GRANT SELECT, INSERT, UPDATE ON notifications TO crmferry_app;

CREATE FUNCTION crmferry_notification_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('crmferry_notifications', json_build_object(
        'org', NEW.organization_id, 'user', NEW.user_id)::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER notifications_notify
    AFTER INSERT ON notifications
    FOR EACH ROW EXECUTE FUNCTION crmferry_notification_notify();

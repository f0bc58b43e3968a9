-- Marking notifications read changes the bell on the member's other open pages too:
-- the same notification as an insert (PostgreSQL folds the identical ones of a
-- "mark all read" into one).
CREATE TRIGGER notifications_notify_read
    AFTER UPDATE OF read_at ON notifications
    FOR EACH ROW WHEN (OLD.read_at IS DISTINCT FROM NEW.read_at)
    EXECUTE FUNCTION crmferry_notification_notify();

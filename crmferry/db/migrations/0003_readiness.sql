-- Lets the application role check that migrations are current (/readyz)
-- without reading the ledger table itself.
CREATE FUNCTION crmferry_schema_versions() RETURNS integer[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT array_agg(version ORDER BY version) FROM crmferry_migrations
$$;
GRANT EXECUTE ON FUNCTION crmferry_schema_versions() TO crmferry_app;

-- Members by name as well: an import's owner column of people's names ("Contact owner":
-- "Jane Smith", as HubSpot, Salesforce and Zoho export it) names the member with that
-- name (the contacts' `owner_name` lookup, crmferry/records/types.py). Columns may only
-- be added at the end of a view that is replaced.
CREATE OR REPLACE VIEW organization_members WITH (security_invoker = true) AS
SELECT m.organization_id, m.user_id, u.email, u.name
  FROM memberships AS m JOIN users AS u ON u.id = m.user_id;

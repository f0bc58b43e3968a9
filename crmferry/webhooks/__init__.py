"""Webhooks by the Standard Webhooks specification.

* `endpoints`: the endpoints of an organization (CRUD, rotation), admins only;
  `signing_secrets` (made, shown once, kept encrypted) and `signature` (v1 HMAC).
* `events`: which endpoints take an outbox event, and their delivery jobs (the
  dispatch's channel is registered by `delivery`).
* `delivery`: the `webhook_delivery` job kind, one attempt each, with `sending` (the
  HTTP POST through the outbound guard), retries and disabling.
* `deliveries`: the delivery log, replay and test events.
* `alerts`: the events this package raises (`webhook.disabled`, `export.large`);
  `admins_told`: the channel that tells the admins of them in the app.
"""

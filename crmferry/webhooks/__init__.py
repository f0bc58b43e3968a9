"""Webhooks by the Standard Webhooks specification: endpoints (`endpoints`), their
signing secrets (`signing_secrets`, `signature`), the events they receive (`events`)
and the delivery job kind that sends them (`delivery`), with its attempts
(`deliveries`)."""

"""Telling people what happened: the outbox, its dispatch and its channels.

* **Events** (`events.py`): a row of `events` per thing worth telling, written in the
  transaction of the state change (a job's final status by a database trigger; a
  schedule's pause by the code that pauses it), so an event exists if and only if the
  change committed. Its `payload` is the job or schedule object as the API shows it.
* **Dispatch** (`dispatch.py`): the workers' housekeeping takes undispatched events,
  organization by organization, and asks every registered channel which deliveries
  each event needs; each delivery becomes a job of the channel's own kind, inserted
  set-based with `ON CONFLICT DO NOTHING` on (event, job type, delivery key), in the
  transaction that marks the events dispatched: exactly one delivery job per event,
  channel and key. Deliveries then run like any job: leases, the per-organization
  cap, retries (`RetryLater`), and a worker killed mid-delivery leaves the job to be
  claimed again with the same event.
* **Channels** (`channels.py`): e-mail (`mail/`) and in-app (`in_app.py`) here. A channel
  is registered, not wired in:

      from crmferry.notify.channels import Channel, Delivery, register_channel

      def plan(conn, settings, events):            # in the event's organization (RLS)
          return [Delivery(e.id, key=str(hook_id), options={...}) for e in events ...]

      register_channel(Channel("webhook", JobKind("deliver_webhook", ..., internal=True),
                               plan, max_attempts=8))

  `plan(conn, settings, events) -> list[Delivery]` sees the batch of `Event`s of one
  organization and returns what to deliver: `Delivery(event_id, key="", options={})`;
  `key` tells apart several deliveries of one event by the channel (an address, an
  endpoint id). The delivery job's `options` are `{"event_id": ..., "key": ...,
  **options}`; its kind's `run` reads the event with `load_event(ctx.conn, ...)` and
  delivers it, raising `RetryLater(detail, after_seconds)` for a passing failure.
  `register_channel` registers the kind too; a name or a job type taken is an error.
  `Channel(..., shown=...)` (optional) tells the job page's "Notified" what to show of
  the channel's delivery jobs when their own fields do not say it (the webhooks: the
  endpoint's URL, and an attempt's outcome, as its job completes whatever the answer).
"""

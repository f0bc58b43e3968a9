"""The audit log: who did what, when (`record`), and the admins' view of it (`list_entries`)."""

from crmferry.audit.log import (
    ACTIONS,
    SYSTEM,
    Actor,
    actor_of,
    audit_json,
    list_entries,
    record,
    record_download,
    record_job_created,
    record_job_finished,
)

__all__ = [
    "ACTIONS",
    "SYSTEM",
    "Actor",
    "actor_of",
    "audit_json",
    "list_entries",
    "record",
    "record_download",
    "record_job_created",
    "record_job_finished",
]

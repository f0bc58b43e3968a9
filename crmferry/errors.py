"""One exception hierarchy; the web edge turns it into problem+json, the CLI into exit codes."""

from __future__ import annotations


class CrmFerryError(Exception):
    """Base of every error CRM Ferry raises on purpose."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, errors: list[dict[str, object]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class ValidationFailed(CrmFerryError):
    """A request, field or option that cannot be used; `errors` names each field."""

    status = 422
    title = "Validation failed"


class NotFound(CrmFerryError):
    """Absent, or belonging to another organization: the two are never told apart."""

    status = 404
    title = "Not found"


class Conflict(CrmFerryError):
    """The thing exists but its state forbids the action (cancel a finished job)."""

    status = 409
    title = "Conflict"


class Unauthenticated(CrmFerryError):
    status = 401
    title = "Authentication required"


class Forbidden(CrmFerryError):
    """The caller's role may not do this (never used to hide another organization)."""

    status = 403
    title = "Forbidden"


class TooManyRequests(CrmFerryError):
    status = 429
    title = "Too many requests"


class PayloadTooLarge(CrmFerryError):
    status = 413
    title = "Payload too large"


class FileUnreadable(CrmFerryError):
    """A file whose content cannot be used (binary, unknown format, broken XLSX)."""

    status = 415
    title = "Unsupported file"


class SourceUnavailable(CrmFerryError):
    """A schedule's URL source could not be fetched: refused, unresolvable, timed out,
    or an answer other than 2xx."""

    status = 502
    title = "Source unavailable"


class JobSignal(Exception):
    """Base of the signals that stop a running job from inside: not an error of a request,
    so it carries no HTTP status and never reaches a client."""


class JobCancelled(JobSignal):
    """Raised inside a running job when its cancel request is seen at a batch boundary."""


class LeaseLost(JobSignal):
    """The worker no longer holds the job (lease expired, claimed elsewhere)."""


class RetryLater(JobSignal):
    """Raised by a kind whose attempt failed for a passing reason (a mail server down):
    its work is rolled back and the job runs again after `after_seconds` (None: the
    engine's exponential backoff with jitter), until its attempts are spent."""

    def __init__(self, detail: str, after_seconds: float | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.after_seconds = after_seconds


class AlreadyRegistered(CrmFerryError):
    """A job kind or a source type registered under a name already taken: a mistake in
    the code or the plugins, found at start (`replace=True` replaces on purpose)."""

    status = 500
    title = "Already registered"

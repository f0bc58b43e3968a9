"""GET /events: Server-Sent Events of the caller's organization's jobs.

The stream is fed by the process's one event hub (`crmferry.web.event_hub`): no
database connection per stream. A comment line every 15 seconds keeps proxies from
closing an idle stream. The stream ends when the caller is no longer let in (token
revoked, membership removed, role changed, session ended or expired).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from crmferry.web.api.models.problems import problem_responses
from crmferry.web.deps import CurrentPrincipal
from crmferry.web.event_hub import EventHub, Stream

router = APIRouter(tags=["jobs"])


class EventStreamResponse(StreamingResponse):
    """A stream of the hub whose slot is given back however the response ends."""

    def __init__(self, hub: EventHub, stream: Stream) -> None:
        super().__init__(
            stream.sse(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self.hub, self.stream = hub, stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.hub.close_stream(self.stream)


@router.get(
    "/events",
    name="events_stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "`event: job`, `data:` the job object, on every status or progress "
            "change; a comment line every 15 s.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **problem_responses(429),
    },
)
async def events(request: Request, principal: CurrentPrincipal) -> StreamingResponse:
    """`event: job` with the job object on every status or progress change. 429 past
    CRMFERRY_SSE_MAX_STREAMS_PER_USER open streams of the caller."""
    hub: EventHub = request.app.state.event_hub
    return EventStreamResponse(hub, hub.open_stream(principal))

"""`--plugin tests.jobs.greeting_plugin`: the greeting kind in that process."""

from crmferry.jobs.kinds import register
from tests.jobs.greeting_kind import GREETING

register(GREETING)

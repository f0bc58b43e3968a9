"""`crmferry worker --plugin tests.jobs.plugin`: the trivial test kind replaces the
export kind in that worker process only."""

from crmferry.jobs.kinds import register
from tests.jobs.trivial_kind import TEST_KIND

register(TEST_KIND, replace=True)

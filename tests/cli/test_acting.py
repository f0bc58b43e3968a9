"""Acting as a member from the command line: who the --org/--email options name."""

from __future__ import annotations

import pytest

from crmferry.cli.acting import local_principal
from crmferry.db import Database
from crmferry.errors import NotFound
from tests.conftest import Org


def test_the_member_is_found_by_email_in_any_case(db: Database, org: Org) -> None:
    principal = local_principal(db, str(org.id), f"  {org.viewer.email.upper()} ")
    assert principal.user_id == org.viewer.user_id
    assert (principal.organization_id, principal.role, principal.via) == (org.id, "viewer", "cli")
    assert principal.email == org.viewer.email


def test_a_member_of_another_organization_is_not_found(db: Database, make_org) -> None:  # type: ignore[no-untyped-def]
    mine, theirs = make_org("Mine"), make_org("Theirs")
    with pytest.raises(NotFound, match="is not a member of organization"):
        local_principal(db, str(mine.id), theirs.member.email)
    with pytest.raises(NotFound, match="No organization not-an-id"):
        local_principal(db, "not-an-id", theirs.member.email)

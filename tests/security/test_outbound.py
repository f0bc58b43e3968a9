"""The outbound guard (SSRF): a URL source cannot reach loopback, private, link-local or
other internal addresses, in any spelling, on the first request or on a redirect, and
a failed connection says only that the source could not be reached."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crmferry.config import Settings
from crmferry.db import Database
from crmferry.jobs.firing import fire_schedule
from crmferry.jobs.schedules import create_schedule
from crmferry.outbound import OutboundPolicy, OutboundRefused, check_url, guarded_client
from crmferry.web.app import create_app
from tests.conftest import Org
from tests.imports.conftest import principal_of
from tests.jobrun import run_job
from tests.security.conftest import Reply, Site

CONTACTS = b"Name,E-mail\nAnn Lee,ann@example.com\n"
MAPPING = {"Name": "name", "E-mail": "email"}
STRICT = OutboundPolicy()

REFUSED_URLS = [
    ("http://127.0.0.1/", "a loopback address"),
    ("http://127.9.8.7:8080/x.csv", "a loopback address"),
    ("http://localhost/", "a loopback address"),
    ("http://2130706433/", "a loopback address"),  # decimal
    ("http://0x7f.1/", "a loopback address"),  # hex, shortened
    ("http://0177.0.0.1/", "a loopback address"),  # octal
    ("http://127.1/", "a loopback address"),
    ("http://[::1]/", "a loopback address"),
    ("http://[::ffff:127.0.0.1]/", "an IPv6 form of a loopback address"),
    ("http://[::ffff:7f00:1]/", "an IPv6 form of a loopback address"),
    ("http://[::127.0.0.1]/", "an IPv6 form of a loopback address"),  # IPv4-compatible
    ("http://[64:ff9b::a00:1]/", "an IPv6 form of a private address (RFC 1918)"),  # NAT64
    ("http://10.1.2.3/", "a private address (RFC 1918)"),
    ("http://172.16.0.1/", "a private address (RFC 1918)"),
    ("http://172.31.255.254/", "a private address (RFC 1918)"),
    ("http://192.168.1.1/", "a private address (RFC 1918)"),
    ("http://[::ffff:192.168.1.1]/", "an IPv6 form of a private address (RFC 1918)"),
    ("http://169.254.169.254/latest/meta-data/", "a link-local address"),
    ("http://[fe80::1]/", "a link-local address"),
    ("http://100.64.0.1/", "a carrier-grade NAT address (RFC 6598)"),
    ("http://100.127.255.254/", "a carrier-grade NAT address (RFC 6598)"),
    ("http://[fc00::1]/", "a unique-local address (RFC 4193)"),
    ("http://[fd12:3456::1]/", "a unique-local address (RFC 4193)"),
    ("http://224.0.0.1/", "a multicast address"),
    ("http://[ff02::1]/", "a multicast address"),
    ("http://0.0.0.0/", "an unspecified address"),
    ("http://0/", "an unspecified address"),
    ("http://[::]/", "an unspecified address"),
    ("http://255.255.255.255/", "a reserved address"),
]


@pytest.mark.parametrize(("url", "rule"), REFUSED_URLS, ids=[u for u, _ in REFUSED_URLS])
def test_internal_addresses_are_refused_in_every_spelling(url: str, rule: str) -> None:
    with pytest.raises(OutboundRefused) as refused:
        check_url(url, STRICT)
    assert rule in refused.value.reason
    assert "CRMFERRY_OUTBOUND_ALLOW" in refused.value.detail


@pytest.mark.parametrize(
    "url",
    ["http://93.184.215.14/feed.csv", "https://[2606:4700:4700::1111]/", "http://8.8.8.8:8080/"],
)
def test_public_addresses_pass(url: str) -> None:
    check_url(url, STRICT)  # raises nothing; no connection is made


def test_a_refusal_names_the_rule_not_the_address_a_name_resolves_to() -> None:
    with pytest.raises(OutboundRefused) as refused:
        check_url("http://localhost:9/x", STRICT)
    resolved = {info[4][0] for info in socket.getaddrinfo("localhost", 9)}
    assert "'localhost' resolves to a loopback address" in refused.value.detail
    assert not any(address in refused.value.detail for address in resolved)


def test_the_operator_allows_networks_and_host_names() -> None:
    policy = OutboundPolicy.parse(" 10.20.0.0/16, feeds.internal , 127.0.0.1")
    check_url("http://10.20.3.4/", policy)
    check_url("http://[::ffff:10.20.3.4]/", policy)
    check_url("http://127.0.0.1:8000/", policy)
    with pytest.raises(OutboundRefused):
        check_url("http://10.21.0.1/", policy)
    with pytest.raises(OutboundRefused):
        check_url("http://127.0.0.2/", policy)
    assert policy.allows_host("FEEDS.internal.")
    with pytest.raises(ValueError, match="neither a CIDR nor a host name"):
        OutboundPolicy.parse("10.0.0.0/8, not a host")


def _schedule_body(url: str) -> dict[str, Any]:
    return {
        "name": "Feed",
        "job_type": "import",
        "data_type": "contacts",
        "options": {},
        "mapping": MAPPING,
        "source": {"type": "url", "url": url},
        "cron": "0 6 * * *",
        "timezone": "UTC",
    }


def test_a_schedule_with_an_internal_source_is_a_422_naming_the_rule(
    settings: Settings, db: Database, org: Org, make_site: Callable[..., Site]
) -> None:
    site = make_site()
    strict = settings.model_copy(update={"outbound_allow": ""})
    client = TestClient(create_app(strict, db))
    for url in (site.url("/contacts.csv"), f"http://2130706433:{site.port}/contacts.csv"):
        response = client.post(
            "/api/v1/schedules", json=_schedule_body(url), headers=org.member.headers
        )
        assert response.status_code == 422, response.text
        problem = response.json()
        assert [e["field"] for e in problem["errors"]] == ["source.url"]
        assert problem["errors"][0]["message"].startswith("refused: ")
        assert "a loopback address" in problem["detail"]
        assert "CRMFERRY_OUTBOUND_ALLOW" in problem["detail"]
    assert site.paths == []


def _run_schedule(db: Database, settings: Settings, org: Org, url: str) -> dict[str, Any]:
    """A schedule made while its source was allowed, run under `settings`."""
    allowing = settings.model_copy(update={"outbound_allow": "127.0.0.1"})
    with db.tenant(org.id) as conn:
        row = create_schedule(conn, principal_of(org, org.member), allowing, _schedule_body(url))
        job = fire_schedule(conn, settings, str(row["id"]), now_please=True)
    assert job is not None
    return run_job(db, settings, org.id, job["id"])


def test_at_run_time_a_refused_source_fails_the_job_and_is_never_requested(
    settings: Settings, db: Database, org: Org, make_site: Callable[..., Site]
) -> None:
    site = make_site()
    site.replies["/contacts.csv"] = Reply(body=CONTACTS)
    url = site.url("/contacts.csv")
    job = _run_schedule(db, settings.model_copy(update={"outbound_allow": ""}), org, url)
    assert job["status"] == "failed"
    assert job["error_message"] == (
        f"The source {url} is refused: 127.0.0.1 is a loopback address; outbound requests "
        "may not reach it (an operator can allow it with CRMFERRY_OUTBOUND_ALLOW)."
    )
    assert site.paths == []


@pytest.mark.parametrize("spelling", ["127.0.0.2", "2130706434", "0x7f.2", "[::ffff:127.0.0.2]"])
def test_a_redirect_to_an_internal_address_is_refused_before_it_is_followed(
    settings: Settings, db: Database, org: Org, make_site: Callable[..., Site], spelling: str
) -> None:
    outside, inside = make_site("127.0.0.1"), make_site("127.0.0.2")
    target = f"http://{spelling}:{inside.port}/secret.csv"
    inside.replies["/secret.csv"] = Reply(body=CONTACTS)
    outside.replies["/latest"] = Reply(302, headers={"Location": target})
    url = outside.url("/latest")
    job = _run_schedule(db, settings, org, url)  # 127.0.0.1 is allowed, 127.0.0.2 is not
    assert job["status"] == "failed"
    assert job["error_message"].startswith(
        f"The source {url} redirected to {target}, which is refused: "
    )
    assert "a loopback address" in job["error_message"]
    assert outside.paths == ["/latest"] and inside.paths == []


def test_the_connection_goes_to_the_address_that_was_checked_not_to_a_second_answer(
    make_site: Callable[..., Site], monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name answers an allowed address when it is checked and another
    one afterwards; the request goes to the first, and the name is resolved once."""
    checked = make_site("127.0.0.1")
    rebound = make_site("127.0.0.2", checked.port)  # the same port: only the address differs
    checked.replies["/feed.csv"] = Reply(body=b"checked")
    rebound.replies["/feed.csv"] = Reply(body=b"rebound")
    answers = iter(["127.0.0.1", "127.0.0.2", "127.0.0.2"])
    lookups: list[str] = []
    real = socket.getaddrinfo

    def rebinding_dns(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "rebind.test":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        address = next(answers)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_dns)
    policy = OutboundPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),))
    with guarded_client(policy, timeout=5) as client:
        response = client.get(f"http://rebind.test:{checked.port}/feed.csv")
    assert response.text == "checked"
    assert lookups == ["rebind.test"]
    assert rebound.paths == []


def test_refused_unknown_and_silent_hosts_fail_alike(
    settings: Settings, db: Database, org: Org
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = int(probe.getsockname()[1])
    urls = [f"http://127.0.0.1:{closed}/c.csv", "http://feeds.crmferry.invalid/c.csv"]
    messages = {
        _run_schedule(db, settings, org, url)["error_message"].replace(url, "URL") for url in urls
    }
    assert messages == {"The source URL could not be reached."}


def test_a_download_that_outlasts_the_deadline_is_stopped(
    settings: Settings, db: Database, org: Org, make_site: Callable[..., Site]
) -> None:
    site = make_site()
    # every byte arrives well within the read timeout, the whole file does not
    site.replies["/slow.csv"] = Reply(body=CONTACTS * 20, drip_seconds=0.05)
    slow = settings.model_copy(update={"fetch_timeout_seconds": 5, "fetch_deadline_seconds": 1})
    url = site.url("/slow.csv")
    job = _run_schedule(db, slow, org, url)
    assert job["status"] == "failed"
    assert job["error_message"] == (
        f"The download from {url} did not finish within 1 s "
        "(CRMFERRY_FETCH_DEADLINE_SECONDS) and was stopped."
    )
    with db.tenant(org.id) as conn:
        assert conn.execute("SELECT count(*) AS n FROM uploads").fetchone() == {"n": 0}

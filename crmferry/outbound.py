"""The one guard for every outbound HTTP request the server makes (URL sources now,
webhooks and a customer's S3 next): the outside may be reached, the inside may not.

A host is resolved, and every address it resolves to is checked against the rules
below (loopback, RFC 1918, link-local, carrier-grade NAT, unique-local, multicast,
unspecified, reserved, and the IPv4-mapped, -compatible, NAT64, 6to4 and Teredo forms
of those); decimal, octal and hex spellings of IPv4 (`http://2130706433/`) are the
addresses they spell. An operator allows internal sources explicitly with
CRMFERRY_OUTBOUND_ALLOW (CIDRs or host names).

Three ways to use it:

* `check_url(url, policy)`: when a URL is given (a schedule's source, a webhook's
  endpoint), refuse it at once with a 422 that names the rule.
* `guarded_client(policy, ...)`: an httpx client whose every connection, on the first
  request and on every redirect, is made only to an address that was checked when it
  was resolved (no second DNS answer can slip in: no DNS rebinding), with a total
  deadline on top of httpx's per-read timeouts. Use it for every outbound request.
* `resolve_checked(host, port, policy)`: the checked addresses of a host, for a client
  that is not httpx; connect to one of those, not to the name again.

Connection failures are reported as one thing, "could not be reached": refused,
timed out and unknown to DNS are not told apart, so an answer reveals nothing of the
network behind the guard.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpcore
import httpx

from crmferry.errors import CrmFerryError, ValidationFailed

if TYPE_CHECKING:
    from crmferry.config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_SETTING = "CRMFERRY_OUTBOUND_ALLOW"
SCHEMES = ("http", "https")


def _networks(*cidrs: str) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(c) for c in cidrs)


# Each rule: the words a refusal uses, and the networks it covers. Order matters only
# for the words (::1 is loopback before it is an IPv4-compatible address).
RULES: tuple[tuple[str, tuple[IPNetwork, ...]], ...] = (
    ("a loopback address", _networks("127.0.0.0/8", "::1/128")),
    ("an unspecified address", _networks("0.0.0.0/8", "::/128")),
    ("a private address (RFC 1918)", _networks("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")),
    ("a carrier-grade NAT address (RFC 6598)", _networks("100.64.0.0/10")),
    ("a link-local address", _networks("169.254.0.0/16", "fe80::/10")),
    ("a unique-local address (RFC 4193)", _networks("fc00::/7")),
    ("a multicast address", _networks("224.0.0.0/4", "ff00::/8")),
    (
        "a reserved address",
        _networks(
            "240.0.0.0/4",
            "192.0.0.0/24",
            "192.0.2.0/24",
            "198.18.0.0/15",
            "198.51.100.0/24",
            "203.0.113.0/24",
            "2001:db8::/32",
            "fec0::/10",
            "100::/64",
        ),
    ),
)
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64 = _networks("64:ff9b::/96", "64:ff9b:1::/48")
# IPv4 in every spelling inet_aton accepts: 2130706433, 0x7f.1, 0177.0.0.1, 127.1
_NUMERIC_HOST = re.compile(r"[0-9a-fA-FxX.]+")


class OutboundRefused(ValidationFailed):
    """A URL whose host is, or resolves to, an address the rules refuse.

    `reason` names the rule ("'localhost' resolves to a loopback address"), never the
    address a name resolved to; `url` is the URL that was refused (on a redirect, the
    redirect's target), set by whoever knows it.
    """

    def __init__(self, reason: str, url: str | None = None, field: str = "url") -> None:
        self.reason = reason
        self.url = url
        self.field = field
        where = f"The URL {url}" if url else "The URL"
        super().__init__(
            f"{where} is refused: {self.explanation}",
            [{"field": field, "message": f"refused: {self.explanation.rstrip('.')}"}],
        )

    @property
    def explanation(self) -> str:
        """The rule and what to do, as a sentence after "… is refused: "."""
        return (
            f"{self.reason}; outbound requests may not reach it "
            f"(an operator can allow it with {ALLOW_SETTING})."
        )

    def for_url(self, url: str, field: str | None = None) -> OutboundRefused:
        """The same refusal, naming `url` (and the request field it came from)."""
        return OutboundRefused(self.reason, url, field or self.field)


class OutboundDeadline(CrmFerryError):
    """The whole exchange took longer than the deadline it was given."""

    status = 504
    title = "Deadline exceeded"


@dataclass(frozen=True)
class OutboundPolicy:
    """What an operator allows although a rule refuses it (CRMFERRY_OUTBOUND_ALLOW)."""

    allowed_networks: tuple[IPNetwork, ...] = ()
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, text: str) -> OutboundPolicy:
        """A comma-separated list of CIDRs (a bare address is a /32 or /128) and host
        names; ValueError for an entry that is neither."""
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for entry in (e.strip() for e in text.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if not re.fullmatch(r"[A-Za-z0-9_.-]+", entry):
                    raise ValueError(
                        f"{ALLOW_SETTING}: '{entry}' is neither a CIDR nor a host name"
                    ) from None
                hosts.add(_host_key(entry))
        return cls(tuple(networks), frozenset(hosts))

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboundPolicy:
        return cls.parse(settings.outbound_allow)

    def allows_host(self, host: str) -> bool:
        return _host_key(host) in self.allowed_hosts

    def allows_address(self, address: IPAddress) -> bool:
        embedded = _embedded_ipv4(address)
        return any(
            a.version == n.version and a in n
            for n in self.allowed_networks
            for a in (address, embedded)
            if a is not None
        )


def refused_rule(address: IPAddress) -> str | None:
    """The rule that refuses `address` ("a loopback address"), or None for a public one."""
    for words, networks in RULES:
        if any(address.version == n.version and address in n for n in networks):
            return words
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        inner = refused_rule(embedded)
        return f"an IPv6 form of {inner}" if inner else None
    if not address.is_global:
        return "not a public address"
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address a URL's host spells, in any notation a resolver accepts, or None for
    a name (`[::1]`, `127.0.0.1`, `2130706433`, `0x7f.1` and `0177.0.0.1` are addresses)."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(bare) and any(c.isdigit() for c in bare):
        with contextlib.suppress(OSError):
            return ipaddress.IPv4Address(socket.inet_aton(bare))
    return None


def resolve_checked(host: str, port: int, policy: OutboundPolicy) -> list[IPAddress]:
    """The addresses `host` resolves to, each one checked: OutboundRefused if any of them
    is refused and not allowed; httpcore.ConnectError "could not be reached" when the
    name does not resolve. Connect to these addresses, never to the name again."""
    literal = literal_address(host)
    if literal is not None:
        _check_address(host, literal, policy, named=False)
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise httpcore.ConnectError("could not be reached") from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    if not policy.allows_host(host):
        for address in addresses:
            _check_address(host, address, policy, named=True)
    return addresses


def check_url(url: str, policy: OutboundPolicy, *, field: str = "url") -> None:
    """Refuse `url` now (OutboundRefused, a 422 naming `field`) when it is not http(s)
    with a host, or its host is or resolves to a refused address. A name that does not
    resolve passes: the request itself will say "could not be reached"."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except (ValueError, TypeError, AttributeError):
        host = port = None
    if host is None or parts.scheme not in SCHEMES:
        raise ValidationFailed(
            f"The URL {url} cannot be used: it must be http:// or https:// with a host.",
            [{"field": field, "message": "must be an http:// or https:// URL with a host"}],
        )
    try:
        resolve_checked(host, port or _default_port(parts.scheme), policy)
    except OutboundRefused as exc:
        raise exc.for_url(url, field) from None
    except httpcore.ConnectError:
        return


def guarded_client(
    policy: OutboundPolicy,
    *,
    timeout: float,
    deadline_seconds: float | None = None,
    headers: dict[str, str] | None = None,
    max_redirects: int = 5,
    verify: ssl.SSLContext | bool = True,
) -> httpx.Client:
    """An httpx client for outbound requests: redirects followed (at most
    `max_redirects`, each one checked), `timeout` to connect and between reads, and,
    with `deadline_seconds`, a total deadline counted from now for everything it does
    (OutboundDeadline past it). Environment proxies and .netrc are ignored: a proxy
    would make the guard check the proxy instead of the target."""
    deadline = None if deadline_seconds is None else time.monotonic() + deadline_seconds
    return httpx.Client(
        transport=GuardedTransport(policy, deadline=deadline, verify=verify),
        timeout=httpx.Timeout(timeout),
        follow_redirects=True,
        max_redirects=max_redirects,
        headers=headers,
        trust_env=False,
    )


class GuardedTransport(httpx.BaseTransport):
    """httpx's transport, with every TCP connection opened by `GuardedBackend`. No
    keep-alive between requests: each request's connection is checked on its own."""

    def __init__(
        self,
        policy: OutboundPolicy,
        deadline: float | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        context = verify if isinstance(verify, ssl.SSLContext) else None
        self._pool = httpcore.ConnectionPool(
            ssl_context=context or httpx.create_ssl_context(verify=verify),
            max_keepalive_connections=0,
            network_backend=GuardedBackend(policy, deadline),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            with _httpx_errors():
                response = self._pool.handle_request(core_request)
        except OutboundRefused as exc:
            raise exc.for_url(str(request.url)) from None
        assert isinstance(response.stream, Iterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


class GuardedBackend(httpcore.NetworkBackend):
    """Opens TCP connections only to addresses `resolve_checked` approved, and enforces
    the deadline on every connect, read and write."""

    def __init__(self, policy: OutboundPolicy, deadline: float | None = None) -> None:
        self.policy = policy
        self.deadline = deadline
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = resolve_checked(host, port, self.policy)
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(
                    str(address),
                    port,
                    _within(timeout, self.deadline),
                    local_address,
                    socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                _raise_if_past(self.deadline)
                continue
            return _DeadlineStream(stream, self.deadline)
        raise httpcore.ConnectError("could not be reached")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise OutboundRefused("a Unix socket is not a network address")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every wait ends at the deadline, at the latest."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float | None) -> None:
        self._stream, self._deadline = stream, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return self._stream.read(max_bytes, _within(timeout, self._deadline))
        except httpcore.ReadTimeout:
            _raise_if_past(self._deadline)
            raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        try:
            self._stream.write(buffer, _within(timeout, self._deadline))
        except httpcore.WriteTimeout:
            _raise_if_past(self._deadline)
            raise

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        tls = self._stream.start_tls(ssl_context, server_hostname, _within(timeout, self._deadline))
        return _DeadlineStream(tls, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _ResponseStream(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _httpx_errors():
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


# httpcore's errors as httpx's, the most specific first (as httpx's own transport does)
_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for core, mapped in _ERRORS:
            if isinstance(exc, core):
                raise mapped(str(exc)) from exc
        raise


def _check_address(host: str, address: IPAddress, policy: OutboundPolicy, named: bool) -> None:
    if policy.allows_address(address):
        return
    rule = refused_rule(address)
    if rule is not None:
        raise OutboundRefused(f"'{host}' resolves to {rule}" if named else f"{host} is {rule}")


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, -compatible, NAT64, 6to4 or Teredo one."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _IPV4_COMPATIBLE or any(address in n for n in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _host_key(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _within(timeout: float | None, deadline: float | None) -> float | None:
    if deadline is None:
        return timeout
    left = _raise_if_past(deadline)
    return left if timeout is None else min(timeout, left)


def _raise_if_past(deadline: float | None) -> float:
    """Seconds left before `deadline` (inf without one); OutboundDeadline when none are."""
    if deadline is None:
        return float("inf")
    left = deadline - time.monotonic()
    if left <= 0:
        raise OutboundDeadline("The request took longer than its deadline and was stopped.")
    return left

"""XLSX memory bombs: a workbook that packs hundreds of megabytes into a small file is
refused from its ZIP directory before anything is parsed, and whatever is read is
streamed, so the web process (uploading, sniffing) stays under 200 MB and a worker
reading a large legitimate workbook stays small too.

Memory is measured on separate processes: the peak resident size (VmHWM) of a
`crmferry serve` receiving uploads, and the peak of a process sniffing or reading a
file. Those processes get an address-space limit, so that a regression fails the test
instead of exhausting the machine."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

from crmferry.db import Database
from tests.conftest import TEST_SECRET, Org
from tests.e2e.conftest import _free_port, _wait_ready
from tests.imports.reading.workbooks import MB, repeated, sheet_xml, strings_xml, write_workbook

ADDRESS_SPACE_LIMIT = 3 * 1024 * MB
WEB_PEAK_LIMIT = 200 * MB
HEADER = b'<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
FIRST = b'<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="s"><v>3</v></c></row>'
NAMES = (
    b"<si><t>Name</t></si><si><t>Email</t></si><si><t>Ada</t></si><si><t>ada@example.com</t></si>"
)


@pytest.fixture(scope="module")
def strings_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 MB of one repeated shared string, packed into well under 1 MB."""
    path = tmp_path_factory.mktemp("bombs") / "strings.xlsx"
    strings = strings_xml([NAMES, *repeated(b"<si><t>x</t></si>", 200 * MB)])
    write_workbook(path, sheet_xml([HEADER, FIRST]), strings)
    assert path.stat().st_size < MB
    return path


@pytest.fixture(scope="module")
def rows_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """180 MB of empty rows in a sheet without a <dimension>."""
    path = tmp_path_factory.mktemp("bombs") / "rows.xlsx"
    write_workbook(
        path, sheet_xml([HEADER, FIRST, *repeated(b"<row/>", 180 * MB)]), strings_xml([NAMES])
    )
    assert path.stat().st_size < MB
    return path


@pytest.fixture(scope="module")
def styles_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Excel's most cell styles (64,000), each with an alignment: 7.5 MB of styles.xml."""
    source = tmp_path_factory.mktemp("bombs") / "source.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Name", "Email"])
    sheet.append(["Ada", "ada@example.com"])
    book.save(source)
    styles = b"".join(
        b'<xf numFmtId="%d" fontId="0" fillId="0" borderId="0" applyAlignment="1">'
        b'<alignment horizontal="left" indent="%d"/></xf>' % (i % 50, i % 7)
        for i in range(64_000)
    )
    path = source.with_name("styles.xlsx")
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/styles.xml":
                start, end = data.index(b"<cellXfs"), data.index(b"</cellXfs>")
                data = data[:start] + b'<cellXfs count="64000">' + styles + data[end:]
            dst.writestr(item, data)
    return path


def contacts_workbook(path: Path, rows: int) -> Path:
    """A legitimate contacts workbook of `rows` rows, every text a shared string."""
    header = [b"Name", b"Email", b"Phone", b"Company", b"City", b"Notes"]

    def row_strings(i: int) -> list[bytes]:
        return [
            b"Zo\xc3\xab N\xc3\xba\xc3\xb1ez %d" % i,
            b"user%d@example.com" % i,
            b"+1 555 %07d" % i,
            b"Acme %d Inc." % (i % 5000),
            b"Montr\xc3\xa9al",
            b"Note number %d about this contact" % i,
        ]

    def sheet() -> Iterator[bytes]:
        yield b'<row r="1">' + b"".join(b'<c t="s"><v>%d</v></c>' % j for j in range(6)) + b"</row>"
        for i in range(1, rows + 1):
            first = 6 * i
            cells = b"".join(b'<c t="s"><v>%d</v></c>' % (first + j) for j in range(6))
            yield b'<row r="%d">%s</row>' % (i + 1, cells)

    def strings() -> Iterator[bytes]:
        for i in range(rows + 1):
            values = header if i == 0 else row_strings(i)
            yield b"".join(b"<si><t>%s</t></si>" % v for v in values)

    return write_workbook(path, sheet_xml(sheet()), strings_xml(strings()))


# ---------------------------------------------------------------- the web process


@dataclass
class Server:
    url: str
    pid: int
    files: Path

    def peak_bytes(self) -> int:
        """The server's peak resident size since it started (the kernel's VmHWM)."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
        return int(line.split()[1]) * 1024


def _limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))


@pytest.fixture(scope="module")
def server(
    database_url: str, db: Database, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """`crmferry serve` with the default limits, in a process of its own."""
    data_dir = tmp_path_factory.mktemp("serve")
    log = data_dir / "server.log"
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CRMFERRY_SECRET_KEY": TEST_SECRET,
        "CRMFERRY_DATA_DIR": str(data_dir),
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "crmferry", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=out,
            preexec_fn=_limit_address_space,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log)
        yield Server(url, process.pid, data_dir / "files")
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def upload(server: Server, org: Org, path: Path) -> httpx.Response:
    with path.open("rb") as file:
        return httpx.post(
            f"{server.url}/api/v1/uploads",
            headers=org.member.headers,
            files={"file": (path.name, file)},
            data={"data_type": "contacts"},
            timeout=120,
        )


def test_a_shared_strings_bomb_is_refused_before_it_is_parsed(
    server: Server, org: Org, strings_bomb: Path
) -> None:
    response = upload(server, org, strings_bomb)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert "'xl/sharedStrings.xml' unpacks to" in problem["detail"]
    assert "CRMFERRY_MAX_XLSX_RATIO" in problem["detail"]
    assert problem["errors"][0]["field"] == "file"
    assert not list((server.files / "uploads" / str(org.id)).glob("*"))  # nothing kept
    assert server.peak_bytes() < WEB_PEAK_LIMIT, f"{server.peak_bytes() / MB:.0f} MB"


def test_a_large_workbook_within_the_limits_is_sniffed_within_the_bound(
    server: Server, org: Org, tmp_path: Path
) -> None:
    path = contacts_workbook(tmp_path / "contacts.xlsx", 100_000)
    response = upload(server, org, path)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["headers"] == ["Name", "Email", "Phone", "Company", "City", "Notes"]
    assert body["preview"][0][:2] == ["Zoë Núñez 1", "user1@example.com"]
    assert body["row_estimate"] == 100_000
    assert server.peak_bytes() < WEB_PEAK_LIMIT, f"{server.peak_bytes() / MB:.0f} MB"


# ---------------------------------------------------------------- sniffing and reading

MEASURE = """
import json, sys
from pathlib import Path
from crmferry.imports.reading import ReadLimits, iter_rows, sniff

def peak():  # this program's peak resident size (ru_maxrss would count its parent's)
    status = Path("/proc/self/status").read_text().splitlines()
    return int(next(line for line in status if line.startswith("VmHWM:")).split()[1]) * 1024

path, limits, read = sys.argv[1], ReadLimits(**json.loads(sys.argv[2])), sys.argv[3] == "read"
before = peak()
info = sniff(path, limits)
rows = sum(1 for _ in iter_rows(path, info, limits)) if read else None
print(json.dumps({"growth": peak() - before, "headers": info.headers, "rows": rows}))
"""


def measure(path: Path, read: bool = False, **limits: Any) -> dict[str, Any]:
    """Sniff (and with `read`, read) `path` in a process of its own; how much its peak
    resident size grew above what importing the readers took, what it found."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path), json.dumps(limits), "read" if read else "sniff"],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_limit_address_space,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("bomb", ["strings_bomb", "rows_bomb", "styles_bomb"])
def test_a_bomb_let_through_by_raised_limits_is_still_sniffed_in_flat_memory(
    bomb: str, request: pytest.FixtureRequest
) -> None:
    """With the ratio and part limits raised out of the way, sniffing reads only the
    strings the first rows use, only the first rows, and only the date styles."""
    path = request.getfixturevalue(bomb)
    found = measure(path, max_xlsx_ratio=100_000, max_xlsx_part_bytes=1024 * MB)
    assert found["headers"] == ["Name", "Email"]
    assert found["growth"] < 40 * MB, f"{found['growth'] / MB:.0f} MB"


def test_reading_a_large_workbook_keeps_the_worker_small(tmp_path: Path) -> None:
    """A whole read holds the shared strings compactly and one row at a time."""
    path = contacts_workbook(tmp_path / "contacts.xlsx", 80_000)
    found = measure(path, read=True)
    assert found["rows"] == 80_000
    assert found["growth"] < 40 * MB, f"{found['growth'] / MB:.0f} MB"

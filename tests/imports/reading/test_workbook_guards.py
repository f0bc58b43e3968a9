"""Legacy and OpenDocument workbooks are checked before they are read, as XLSX is."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from crmferry.errors import FileUnreadable, ValidationFailed
from crmferry.imports.reading import sniff
from tests.imports.reading.conftest import write


def test_an_ods_compression_bomb_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "bomb.ods"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED
        )
        archive.writestr("content.xml", b"<a>" + b" " * (20 * 1024 * 1024) + b"</a>")
    with pytest.raises(ValidationFailed, match="compression bomb"):
        sniff(path)


def test_an_opendocument_text_is_not_taken_for_a_spreadsheet(tmp_path: Path) -> None:
    path = tmp_path / "letter.odt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", "<office:document-content/>")
    with pytest.raises(FileUnreadable, match="not a spreadsheet"):
        sniff(path)


def test_a_broken_ole2_file_says_what_it_may_be(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))
    with pytest.raises(FileUnreadable, match="password-protected"):
        sniff(path)

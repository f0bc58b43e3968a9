"""Encodings people really have: detected right on short files too, said when unsure,
chosen by the user when detection cannot know. Golden files laid out as the tools that
write them lay them out (Excel on Chinese Windows, Outlook on Japanese Windows, Excel
for Mac's "CSV (Macintosh)", FileMaker)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Org
from tests.imports.conftest import Importer

FILES = Path(__file__).parent / "files"


def _upload(importer: Importer, org: Org, name: str, **fields: str) -> dict[str, object]:
    data = (FILES / name).read_bytes()
    response = importer.client.post(
        "/api/v1/uploads",
        headers=org.member.headers,
        files={"file": (name, data)},
        data={"data_type": "contacts", **fields},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_gb18030_chinese_file_imports_in_chinese(importer: Importer, org: Org) -> None:
    upload = _upload(importer, org, "gb18030_contacts.csv")
    assert upload["encoding"] == "gb18030"
    assert upload["headers"][:3] == ["姓名", "电子邮件地址", "手机"]
    mapping = {"姓名": "name", "电子邮件地址": "email", "公司": "company", "城市": "city"}
    job = importer.run(org, importer.create(org, "contacts", str(upload["id"]), mapping))
    assert job["status"] == "completed", job["error_message"]
    rows = importer.rows(
        org, "SELECT name, company FROM contacts WHERE email = 'li.hua@example.cn'"
    )
    assert rows == [{"name": "李华", "company": "上海贸易公司"}]


def test_a_three_row_shift_jis_file_is_text(importer: Importer, org: Org) -> None:
    upload = _upload(importer, org, "shiftjis_three_rows.csv")
    assert upload["encoding"] == "cp932"
    assert upload["preview"][1][:2] == ["佐藤", "花子"]


def test_mac_roman_keeps_its_euro_and_says_it_is_a_guess(importer: Importer, org: Org) -> None:
    upload = _upload(importer, org, "macroman_euro.csv")
    assert upload["encoding"] == "mac-roman"
    assert upload["preview"][0][3] == "Budget 5 000 €"
    assert upload["preview"][2][0] == "Jürgen Groß"
    assert upload["encoding_confidence"] < 0.8
    assert "guess" in upload["encoding_note"] and "Mac Roman" in upload["encoding_note"]
    assert "mac-turkish" in upload["encoding_alternatives"]


def test_the_user_chooses_the_encoding_and_sees_its_preview(importer: Importer, org: Org) -> None:
    upload = _upload(importer, org, "macroman_euro.csv", encoding="mac-turkish")
    assert upload["encoding"] == "mac-turkish" and upload["encoding_confidence"] == 1.0
    assert upload["preview"][0][3] == "Budget 5 000 ğ"
    mapping = {"Name": "name", "Email": "email", "Notes": "notes"}
    job = importer.run(org, importer.create(org, "contacts", str(upload["id"]), mapping))
    assert job["status"] == "completed", job["error_message"]
    rows = importer.rows(org, "SELECT notes FROM contacts WHERE email = 'rene@example.fr'")
    assert rows == [{"notes": "Budget 5 000 ğ"}]


def test_an_unknown_encoding_is_a_422_naming_the_field(importer: Importer, org: Org) -> None:
    response = importer.client.post(
        "/api/v1/uploads",
        headers=org.member.headers,
        files={"file": ("a.csv", b"Name\nAda\n")},
        data={"encoding": "klingon"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "encoding"


def test_a_chosen_encoding_the_file_is_not_in_is_refused(importer: Importer, org: Org) -> None:
    response = importer.client.post(
        "/api/v1/uploads",
        headers=org.member.headers,
        files={"file": ("a.csv", (FILES / "gb18030_contacts.csv").read_bytes())},
        data={"encoding": "utf-8"},
    )
    assert response.status_code in (415, 422)
    assert "utf-8" in response.json()["detail"]


def test_filemaker_vertical_tabs_are_text_kept_as_written(importer: Importer, org: Org) -> None:
    upload = _upload(importer, org, "filemaker_vertical_tab.csv")
    assert upload["encoding"] == "utf-8" and upload["encoding_confidence"] == 1.0
    mapping = {"First Name": "first_name", "Last Name": "last_name", "Email": "email"}
    mapping["Address"] = "address"
    job = importer.run(org, importer.create(org, "contacts", str(upload["id"]), mapping))
    assert job["status"] == "completed", job["error_message"]
    rows = importer.rows(org, "SELECT address FROM contacts WHERE email = 'bob@example.com'")
    assert rows == [{"address": "1 Main St\x0bFlat 2\x0bLeeds"}]


def test_every_detected_encoding_is_read_again_by_the_run(importer: Importer, org: Org) -> None:
    # cp1252 leaves 0x81 undefined: the file is read as ISO-8859-1, by the upload and the run
    content = "Name,Email\nJosé,jose@example.com\n".encode("cp1252") + b"X\x81,x@example.com\n"
    upload = importer.upload(org.member, content)
    assert upload["encoding"] == "iso8859-1"
    job = importer.run(org, importer.create(org, "contacts", upload["id"], {"Name": "name"}))
    assert job["status"] == "completed", job["error_message"]

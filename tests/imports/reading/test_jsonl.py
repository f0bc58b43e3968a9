"""JSON Lines: told from CSV by its first line, keys as columns, values as their exact
text, every line's own number, and each broken line a row error of that line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmferry.errors import CrmFerryError, FileUnreadable, ValidationFailed
from crmferry.imports.reading import ReadChoices, ReadLimits, RowProblem, iter_rows, sniff

from .conftest import FILES, write

EXPORT = FILES / "inventory_export.jsonl"


def read(path: Path, limits: ReadLimits = ReadLimits()) -> tuple[list, list[RowProblem]]:  # type: ignore[type-arg]
    problems: list[RowProblem] = []
    info = sniff(path, limits)
    return list(iter_rows(path, info, limits, problems.append)), problems


def test_an_export_is_read_with_its_keys_as_columns_and_exact_numbers() -> None:
    info = sniff(EXPORT)
    assert (info.format, info.encoding, info.delimiter, info.header_row) == (
        "jsonl",
        "utf-8",
        None,
        0,
    )
    assert info.headers[:3] == ("id", "sku", "name")
    assert info.row_estimate == 3 and info.problems == ()
    rows, problems = read(EXPORT)
    assert problems == []
    assert [number for number, _ in rows] == [1, 2, 3]
    by_sku = {cells[1]: dict(zip(info.headers, cells, strict=True)) for _, cells in rows}
    assert by_sku["B-100"]["unit_price"] == "19.99" and by_sku["B-100"]["cost"] == "0.50"
    assert by_sku["W-1"]["unit_price"] == "1234567.89" and by_sku["W-1"]["cost"] == "1.00"
    assert by_sku["N-007"]["cost"] == "" and by_sku["N-007"]["quantity"] == "0"
    assert by_sku["W-1"]["name"] == "Washer, flat"


def test_values_come_as_their_text(tmp_path: Path) -> None:
    line = (
        '{"price": 12.10, "big": 12345678901234567890.000, "n": -7, "e": 1E+3, "yes": true,'
        ' "no": false, "none": null, "text": "Zoë \\"Z\\" Müller\\n李小龍 \\u00e9", "empty": ""}'
    )
    path = write(tmp_path, line + "\n", "values.jsonl")
    rows, problems = read(path)
    assert problems == []
    assert rows == [
        (
            1,
            [
                "12.10",
                "12345678901234567890.000",
                "-7",
                "1E+3",
                "true",
                "false",
                "",
                'Zoë "Z" Müller\n李小龍 é',
                "",
            ],
        )
    ]


def test_a_bom_and_crlf_line_ends_are_read(tmp_path: Path) -> None:
    content = b'\xef\xbb\xbf{"name": "Ada", "email": "a@example.com"}\r\n{"name": "Bob"}\r\n'
    path = write(tmp_path, content, "bom.jsonl")
    info = sniff(path)
    assert (info.format, info.encoding, info.headers) == ("jsonl", "utf-8-sig", ("name", "email"))
    rows, problems = read(path)
    assert rows == [(1, ["Ada", "a@example.com"]), (2, ["Bob", ""])] and problems == []


def test_blank_lines_are_skipped_and_lines_keep_their_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, '\n{"a": "1"}\n\n   \n{"a": "2"}\n\n', "blank.jsonl")
    assert sniff(path).row_estimate == 2
    rows, _ = read(path)
    assert rows == [(2, ["1"]), (5, ["2"])]


def test_the_columns_are_the_keys_of_the_first_lines_in_first_seen_order(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, '{"b": 1, "a": 2}\n{"c": 3, "a": 4}\n{"a": 5}\n', "keys.jsonl")
    assert sniff(path).headers == ("b", "a", "c")
    rows, _ = read(path)
    assert rows == [(1, ["1", "2", ""]), (2, ["", "4", "3"]), (3, ["", "5", ""])]


def test_a_broken_line_is_a_row_error_naming_its_line_and_column(tmp_path: Path) -> None:
    content = '{"name": "Ada"}\n{"name": "Bob" "x": 1}\n{"name": "Cid"}\n'
    path = write(tmp_path, content, "broken.jsonl")
    info = sniff(path)
    assert [p.row_number for p in info.problems] == [2]
    rows, problems = read(path)
    assert [number for number, _ in rows] == [1, 2, 3]
    assert rows[1] == (2, [""]) and rows[2] == (3, ["Cid"])
    assert len(problems) == 1 and problems[0].row_number == 2
    assert "is not valid JSON: Expecting ',' delimiter at column 16" in problems[0].message


@pytest.mark.parametrize(
    ("line", "column", "said"),
    [
        ('{"name": "B", "tags": ["a", "b"]}', "tags", "holds an array of 2 values under 'tags'"),
        ('{"name": "B", "tags": {"x": 1}}', "tags", "holds an object under 'tags'"),
        ('{"name": "B", "fax": "0"}', "fax", "has the key 'fax', which the file's first lines"),
        ('{"name": "B", "name": "C"}', "name", "has the key 'name' twice"),
        ('["name", "B"]', "", "holds an array of 2 values, not a JSON object"),
        ('{"name": NaN}', "", "NaN is not a JSON value"),
        ('{"deleted": {"id": "0a", "sku": "X"}}', "deleted", "records the deletion of record 0a"),
    ],
)
def test_a_line_that_is_no_flat_object_is_a_row_error(
    tmp_path: Path, line: str, column: str, said: str
) -> None:
    filler = "".join(f'{{"name": "P{i}", "tags": null}}\n' for i in range(3000))
    path = write(tmp_path, filler + line + '\n{"name": "Last"}\n', "flawed.jsonl")
    assert path.stat().st_size > 64 * 1024  # the line is past the sample: not in the header
    rows, problems = read(path)
    assert len(rows) == 3002 and rows[-1] == (3002, ["Last", ""])
    assert len(problems) == 1, problems
    assert (problems[0].row_number, problems[0].column) == (3001, column)
    assert said in problems[0].message


def test_bytes_that_are_not_utf8_in_the_first_lines_refuse_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '{"name": "Ada"}\n{"name": "Jos\xe9"}\n'.encode("latin-1"), "l.jsonl")
    with pytest.raises(FileUnreadable, match="line 2 holds bytes that are not UTF-8"):
        sniff(path)


def test_bytes_that_are_not_utf8_past_the_first_lines_are_a_row_error(tmp_path: Path) -> None:
    filler = "".join(f'{{"name": "P{i}"}}\n' for i in range(5000)).encode()
    path = write(tmp_path, filler + '{"name": "Jos\xe9"}\n'.encode("latin-1"), "late.jsonl")
    rows, problems = read(path)
    assert len(rows) == 5001
    assert [(p.row_number, p.column) for p in problems] == [(5001, "")]
    assert "not UTF-8" in problems[0].message


def test_utf16_json_lines_is_refused_saying_so(tmp_path: Path) -> None:
    path = write(tmp_path, '{"name": "Ada"}\n'.encode("utf-16"), "u16.jsonl")
    with pytest.raises(FileUnreadable, match="JSON Lines in UTF-16"):
        sniff(path)


@pytest.mark.parametrize("content", ['{\n  "name": "Ada"\n}\n', '[{"name": "Ada"}]\n'])
def test_a_json_document_is_refused_as_not_json_lines(tmp_path: Path, content: str) -> None:
    with pytest.raises(FileUnreadable, match="JSON document, not JSON Lines"):
        sniff(write(tmp_path, content, "doc.json"))


@pytest.mark.parametrize(
    "content",
    [
        '{"a": 1},b,c\n1,2,3\n',  # a first cell that is JSON, the line not one object
        "{Name},Email\nAda,a@example.com\n",
        '"{""a"": 1}",x\n1,2\n',
    ],
)
def test_a_csv_whose_first_cell_starts_with_a_brace_is_read_as_csv(
    tmp_path: Path, content: str
) -> None:
    info = sniff(write(tmp_path, content, "brace.csv"))
    assert info.format == "csv" and len(info.headers) in (2, 3)


def test_the_limits_apply(tmp_path: Path) -> None:
    lines = "".join(json.dumps({"name": f"P{i}"}) + "\n" for i in range(10))
    path = write(tmp_path, lines, "many.jsonl")
    with pytest.raises(ValidationFailed, match="more than 5 data rows"):
        read(path, ReadLimits(max_rows=5))
    long = write(tmp_path, json.dumps({"name": "x" * 50}) + "\n", "long.jsonl")
    with pytest.raises(ValidationFailed, match="over the limit of 20 per cell"):
        read(long, ReadLimits(max_cell_chars=20))


def test_the_estimate_of_a_large_file_comes_from_its_first_lines(tmp_path: Path) -> None:
    lines = "".join(json.dumps({"name": f"Person {i:06}", "n": i}) + "\n" for i in range(20_000))
    path = write(tmp_path, lines, "large.jsonl")
    info = sniff(path)
    assert 19_000 <= info.row_estimate <= 21_000 and len(info.preview) == 20
    assert sum(1 for _ in iter_rows(path, info)) == 20_000


def test_a_chosen_last_row_ends_the_data_and_other_choices_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '{"a": 1}\n{"a": 2}\n{"a": 3}\n', "c.jsonl")
    info = sniff(path, choices=ReadChoices(last_row=2))
    assert info.last_row == 2 and [r for _, r in iter_rows(path, info)] == [["1"], ["2"]]
    with pytest.raises(ValidationFailed, match="no header row"):
        sniff(path, choices=ReadChoices(header_row=1))
    with pytest.raises(ValidationFailed, match="is UTF-8"):
        sniff(path, choices=ReadChoices(encoding="cp1252"))
    assert sniff(path, choices=ReadChoices(encoding="utf-8")).format == "jsonl"


def test_a_file_whose_first_lines_hold_no_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileUnreadable, match="no JSON object with keys"):
        sniff(write(tmp_path, "{}\n{}\n", "empty.jsonl"))


def test_a_change_exports_deletions_make_no_column(tmp_path: Path) -> None:
    content = '{"id": "1a", "sku": "A"}\n{"deleted": {"id": "2b", "sku": "B"}}\n'
    path = write(tmp_path, content, "changes.jsonl")
    assert sniff(path).headers == ("id", "sku")
    rows, problems = read(path)
    assert rows == [(1, ["1a", "A"]), (2, ["", ""])]
    assert [(p.row_number, p.column) for p in problems] == [(2, "deleted")]
    assert "imports do not delete records" in problems[0].message


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32"])
def test_json_lines_in_another_unicode_encoding_is_refused(tmp_path: Path, encoding: str) -> None:
    content = '{"name": "Ada"}\n{"name": "Bob"}\n'.encode(encoding)
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff", "utf-32": b""}[encoding]
    with pytest.raises(FileUnreadable, match="JSON Lines in UTF-"):
        sniff(write(tmp_path, bom + content, "u.jsonl"))


def test_values_nested_past_the_stack_are_a_row_error(tmp_path: Path) -> None:
    deep = '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"
    path = write(tmp_path, '{"a": 1}\n' + deep + "\n", "deep.jsonl")
    rows, problems = read(path)
    assert [number for number, _ in rows] == [1, 2]
    assert [p.row_number for p in problems] == [2] and "too deeply" in problems[0].message
    with pytest.raises(CrmFerryError):
        sniff(write(tmp_path, deep + "\n", "deep_first.jsonl"))


_JSONISH = st.text(alphabet='{}[]":,0123456789.eE+-truefalsn \t\r\n\\u00e9abc\x00', max_size=300)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=_JSONISH,
    first=st.dictionaries(
        st.text(max_size=5), st.none() | st.text(max_size=5) | st.integers(), min_size=1, max_size=4
    ),
)
def test_any_json_like_text_raises_nothing_but_a_crmferry_error(
    tmp_path: Path, body: str, first: dict[str, object]
) -> None:
    path = write(tmp_path, json.dumps(first) + "\n" + body, "fuzz.jsonl")
    try:
        info = sniff(path)
        list(iter_rows(path, info))
    except CrmFerryError:
        pass

"""The reader tells rows the file gets wrong, and reads the rest as it should."""

from __future__ import annotations

from pathlib import Path

from crmferry.imports.reading import RowProblem, iter_rows, sniff
from tests.imports.reading.conftest import write


def _read(path: Path) -> tuple[list[tuple[int, list[str]]], list[RowProblem]]:
    problems: list[RowProblem] = []
    rows = list(iter_rows(path, sniff(path), problems=problems.append))
    return rows, problems


def test_a_quoted_cell_over_several_lines_is_no_problem(tmp_path: Path) -> None:
    path = write(tmp_path, 'Name,Address,City\nAda,"1 Main St\nFlat 2",London\nBob,x,Leeds\n')
    rows, problems = _read(path)
    assert rows == [(2, ["Ada", "1 Main St\nFlat 2", "London"]), (3, ["Bob", "x", "Leeds"])]
    assert problems == []


def test_a_quote_closed_rows_later_is_told_and_the_swallowed_rows_read(tmp_path: Path) -> None:
    body = 'Name,Company,City\nAda,"Acme,London\nBob,B Ltd,Leeds\nCid,"C, Inc",Rome\n'
    rows, problems = _read(write(tmp_path, body))
    assert [n for n, _ in rows] == [2, 3, 4]
    assert rows[1] == (3, ["Bob", "B Ltd", "Leeds"])
    assert rows[2] == (4, ["Cid", "C, Inc", "Rome"])
    (problem,) = problems
    assert problem.row_number == 2 and problem.column == "Company"
    assert "line 2 of the file" in problem.message


def test_the_line_of_the_quote_counts_the_lines_of_earlier_cells(tmp_path: Path) -> None:
    body = 'Name,Note\nAda,"two\nlines"\nBob,"open\nCid,x\n'
    rows, problems = _read(write(tmp_path, body))
    assert [n for n, _ in rows] == [2, 3, 4]
    assert problems[0].row_number == 3 and "line 4 of the file" in problems[0].message


def test_an_open_quote_on_the_last_line_is_told(tmp_path: Path) -> None:
    rows, problems = _read(write(tmp_path, 'Name,Note\nAda,ok\nBob,"open\n'))
    assert rows == [(2, ["Ada", "ok"]), (3, ["Bob", "open"])]
    assert [p.row_number for p in problems] == [3]


def test_extra_cells_are_told_but_a_trailing_delimiter_is_not(tmp_path: Path) -> None:
    rows, problems = _read(write(tmp_path, "A,B\n1,2,\n3,4,5\n"))
    assert rows == [(2, ["1", "2"]), (3, ["3", "4", "5"])]
    (problem,) = problems
    assert problem.row_number == 3 and problem.column == "Column 3"
    assert "'5'" in problem.message


def test_a_single_line_quirk_stays_as_excel_reads_it(tmp_path: Path) -> None:
    rows, problems = _read(write(tmp_path, 'Name,Size\n"Big" Al,5" screen\n'))
    assert rows == [(2, ["Big Al", '5" screen'])]
    assert problems == []

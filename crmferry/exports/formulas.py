"""Formula injection (OWASP "CSV Injection"): a text cell that a spreadsheet would run
as a formula is prefixed with a single quote `'`. The rule, for text, e-mail and phone
fields in CSV and XLSX (never JSON Lines, which no spreadsheet opens), and for every
cell of the import error report:

* a value whose first character is `=` `+` `-` `@` tab or CR gets a leading `'`;
* so does a value in which one of those follows control characters a spreadsheet never
  shows (those XML 1.0 cannot hold: the XLSX writer drops them, and a spreadsheet may
  drop them from CSV), or one or more `'`, in any mix: `\\x01=HYPERLINK(...)` is a
  formula once the `\\x01` is gone. Looking through them, the rule gives the same cell
  whether they are dropped before it runs or after. An import takes one quote off
  exactly such a value (`crmferry_clean`, migrations 0006, 0050 and 0051, the rule's
  inverse), so a record's text exported and imported back is the text it was;
* values that merely look like signed numbers in a *text* field, such as the phone
  `+1 555 0100` or `-5`, are prefixed too. No exception is made for them: a spreadsheet
  would not keep them as typed anyway (`+1 555 0100` evaluates to `#NULL!`, `+15550100`
  loses its `+`, `-5-3` becomes `-8`), and a pattern of "safe-looking" values is one
  more parser for an attacker to get around. The prefix keeps the text as text.
* numbers stored in numeric columns (integer, decimal) are numbers, never prefixed:
  `-5.00` in CSV, a numeric cell in XLSX; so is the `id` (a uuid).

The rule runs inside PostgreSQL (a CASE on each text column), so CSV stays a plain
`COPY (SELECT ...) TO STDOUT`, the fastest path there is; XLSX uses the same SQL.
`neutralise_formula` is the same rule in Python, for the error report; the tests hold
the two to the same answer on any text.
"""

from __future__ import annotations

from psycopg import sql

from crmferry.exports.options import TEXT_LIKE
from crmferry.exports.query import Column

FORMULA_TRIGGERS = "=+-@\t\r"
# Control characters a spreadsheet never shows: those XML 1.0 cannot hold.
UNSHOWN = "".join(map(chr, (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20))))
_LOOKED_THROUGH = "'" + UNSHOWN
# The same characters as an SQL string constant (PostgreSQL text never holds NUL).
_LOOKED_THROUGH_SQL = "E'''" + "".join(f"\\x{ord(c):02x}" for c in UNSHOWN[1:]) + "'"

# The same rule in SQL. The backend running the COPY evaluates it for every text cell,
# so it is most of what a CSV export costs over a bare COPY; hence tests on the first
# character's code, `ascii(v)` (one cheap call, no collation, unlike a text comparison),
# common cases first and no IN list (an array scan) on their paths. Every trigger, the
# quote and the control characters are below 'A' (65): letters and accented text leave
# after one test, digits (48-57) after three; then = and @ (61, 64); then tab, CR, + and
# - (9, 13, 43, 45); then a run of quotes or control characters before a trigger (rare).
# NULL falls through to ELSE, and so does '' (ascii 0, then ltrim's ascii 0).
# (callgrind, the bench's contacts: 30% fewer instructions for the neutralisation than
# the former first test `v >= 'A' COLLATE "C"` and one IN list of all six triggers.)
_NEUTRALISE_SQL = sql.SQL(
    "CASE WHEN ascii({v}) >= 65 THEN {v}"
    " WHEN ascii({v}) >= 48 THEN"
    " CASE WHEN ascii({v}) < 61 THEN {v} WHEN ascii({v}) IN (61, 64) THEN '''' || {v} ELSE {v} END"
    " WHEN ascii({v}) IN (43, 45, 9, 13) THEN '''' || {v}"
    " WHEN (ascii({v}) = 39 OR ascii({v}) < 32)"
    " AND ascii(ltrim({v}, " + _LOOKED_THROUGH_SQL + ")) IN (9, 13, 43, 45, 61, 64)"
    " THEN '''' || {v}"
    " ELSE {v} END"
)


def neutralise_formula(value: str) -> str:
    """`value` with a leading `'` when a spreadsheet would read it as a formula: its first
    character after any quotes and unshown control characters is = + - @ tab or CR."""
    first = value.lstrip(_LOOKED_THROUGH)[:1]
    return "'" + value if first and first in FORMULA_TRIGGERS else value


def neutralise_formula_sql(expr: sql.Composable) -> sql.Composable:
    """`neutralise_formula` as an SQL expression over the text expression `expr`."""
    return _NEUTRALISE_SQL.format(v=expr)


def may_hold_formula(column: Column) -> bool:
    """Text that may hold a formula: a text-like field stored as text (not the `id`,
    a uuid, whose text never starts with a trigger)."""
    return column.field.type in TEXT_LIKE and column.field.sql_type == "text"


def neutralised_expr(column: Column) -> sql.Composable:
    """The column's expression, neutralised when it may hold a formula."""
    return neutralise_formula_sql(column.expr) if may_hold_formula(column) else column.expr

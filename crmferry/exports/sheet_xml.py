"""A worksheet row as SpreadsheetML, built by PostgreSQL: one `<row>` of `<c>` cells per
record, so that an XLSX export is a COPY whose rows are only compressed in Python
(`xlsx_writer`).

Cells by the field's type (styles: `xlsx_package.Style`):

* text, e-mail, phone, currency, enum: an inline string cell (`t="inlineStr"`), never
  a formula or an error value, whatever it holds; text is neutralised (`formulas`, the
  one rule) before anything else, then the control characters XML 1.0 cannot hold are
  dropped (the rule looks through them), cut to Excel's 32,767 characters, and escaped:
  `& < >` as entities, a literal `_xHHHH_` as `_x005F_xHHHH_`, CR as `_x000D_` (the
  workbook escape Excel writes: a raw CR would read back as LF, XML normalises line
  ends) and LF as `&#10;` (so that a COPY line is one row), in a `<t xml:space=
  "preserve">`. The escaping runs only on the rare row that needs it (one
  regular-expression test per row, on its text joined: `row_select_list`);
* integer: a number; decimal: a number formatted `0.00` (NaN and infinities, which
  no cell holds, as text); boolean: a boolean cell;
* date: its serial day number (1900 date system), formatted `yyyy-mm-dd`; a date
  before 1900-03-01, where Excel's calendar has its phantom leap day, as ISO text;
* datetime: the UTC time as a serial day number (float8: microseconds kept),
  formatted `yyyy-mm-dd hh:mm:ss` (Excel has no time zones);
* uuid (the `id`): its text;
* empty (NULL or ''): an empty cell `<c/>` (rows and cells carry no `r` reference: they are in
  order, as the format allows, which saves a window function and the bytes).
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql

from crmferry.exports.formulas import UNSHOWN, neutralised_expr
from crmferry.exports.options import TEXT_LIKE
from crmferry.exports.query import Column

MAX_XLSX_CELL = 32_767  # Excel's longest text cell

# The styles of xlsx_package.STYLES_XML's cellXfs, by index.
DATE_STYLE, DATETIME_STYLE, DECIMAL_STYLE = 1, 2, 3

EMPTY_CELL = "'<c/>'"
_UNSHOWN_SQL = "E'" + "".join(f"\\x{ord(c):02x}" for c in UNSHOWN[1:]) + "'"  # without NUL
# What needs more than the value between <t> and </t>.
_NEEDS_ESCAPING = (
    "E'[&<>\\r\\n" + "".join(f"\\\\x{ord(c):02x}" for c in UNSHOWN[1:]) + "]|_x[0-9A-Fa-f]{{4}}_'"
)

_TEXT_OPEN = '\'<c t="inlineStr"><is><t xml:space="preserve">\''
_TEXT_CLOSE = "'</t></is></c>'"
TEXT_CELL = (
    f"CASE WHEN octet_length({{v}}) BETWEEN 1 AND {MAX_XLSX_CELL} AND {{v}} !~ {_NEEDS_ESCAPING}"
    f" THEN {_TEXT_OPEN} || {{v}} || {_TEXT_CLOSE}"
    " WHEN octet_length({v}) = 0 OR {v} IS NULL THEN '<c/>'"
    f" ELSE {_TEXT_OPEN} || replace(replace(replace(replace(replace(regexp_replace("
    f"left(translate({{v}}, {_UNSHOWN_SQL}, ''), {MAX_XLSX_CELL}),"
    " '_(x[0-9A-Fa-f]{{4}}_)', '_x005F_\\1', 'g'),"
    " '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), E'\\r', '_x000D_'), E'\\n', '&#10;')"
    f" || {_TEXT_CLOSE} END"
)
PLAIN_TEXT_CELL = (
    "CASE WHEN {v} IS NULL THEN '<c/>'"
    " ELSE '<c t=\"inlineStr\"><is><t>' || {v} || '</t></is></c>' END"
)
INTEGER_CELL = "CASE WHEN {v} IS NULL THEN '<c/>' ELSE '<c><v>' || {v} || '</v></c>' END"
DECIMAL_CELL = (
    "CASE WHEN {v} IS NULL THEN '<c/>'"
    " WHEN {v} IN ('NaN', 'Infinity', '-Infinity')"
    " THEN '<c t=\"inlineStr\"><is><t>' || {v} || '</t></is></c>'"
    " ELSE '<c s=\"" + str(DECIMAL_STYLE) + "\"><v>' || {v} || '</v></c>' END"
)
BOOLEAN_CELL = (
    "CASE WHEN {v} IS NULL THEN '<c/>' WHEN {v} THEN '<c t=\"b\"><v>1</v></c>'"
    " ELSE '<c t=\"b\"><v>0</v></c>' END"
)
DATE_CELL = (
    "CASE WHEN {v} IS NULL THEN '<c/>'"
    " WHEN {v} < date '1900-03-01' OR {v} > date '9999-12-31'"
    " THEN '<c t=\"inlineStr\"><is><t>' || to_char({v}, 'YYYY-MM-DD') || '</t></is></c>'"
    " ELSE '<c s=\"" + str(DATE_STYLE) + "\"><v>' || ({v} - date '1899-12-30') || '</v></c>' END"
)
DATETIME_CELL = (
    "CASE WHEN {v} IS NULL THEN '<c/>'"
    " WHEN {v} < timestamptz '1900-03-01 00:00:00+00' OR {v} >= timestamptz '10000-01-01 UTC'"
    " THEN '<c t=\"inlineStr\"><is><t>' || {v} || '</t></is></c>'"
    " ELSE '<c s=\"" + str(DATETIME_STYLE) + "\"><v>'"
    " || (date_part('epoch', {v}) / 86400.0 + 25569.0)::float8 || '</v></c>' END"
)


_TYPED_CELLS = {
    "integer": INTEGER_CELL,
    "decimal": DECIMAL_CELL,
    "boolean": BOOLEAN_CELL,
    "date": DATE_CELL,
    "datetime": DATETIME_CELL,
}

# Text a plain <t> element holds as it is: none of & < > CR LF, no control character,
# nothing that reads as an _xHHHH_ escape, no leading or trailing space or tab in any
# value (DEL separates the values: one inside a value only sends the row the escaped
# way), and short enough for each cell (the longest value's length: no copy of text).
ROW_TEXT_IS_PLAIN = (
    f"greatest({{lengths}}) <= {MAX_XLSX_CELL} AND {{text}} !~ "
    + _NEEDS_ESCAPING[:-1]
    + "|(^|\\x7f)[ \\t]|[ \\t](\\x7f|$)'"
)
ROW_XML = (
    "CASE WHEN {plain_check} THEN concat('<row>', {plain}, '</row>')"
    " ELSE concat('<row>', {escaped}, '</row>') END AS xml"
)
PLAIN_CELL = (
    "CASE WHEN octet_length({raw}) > 0"
    " THEN '<c t=\"inlineStr\"><is><t>' || {v} || '</t></is></c>' ELSE '<c/>' END"
)


def _is_text(column: Column) -> bool:
    return column.field.sql_type != "uuid" and (
        column.field.type in TEXT_LIKE or column.field.type == "enum"
    )


def _known(column: Column) -> bool:
    return column.field.sql_type == "uuid" or column.field.type in _TYPED_CELLS or _is_text(column)


def cell_expr(column: Column, plain: bool = False) -> sql.Composable:
    """The SQL text of the column's `<c>` element (never NULL). `plain`: the row's text
    needs no escaping (`row_select_list` checks), so text goes as it is."""
    field = column.field
    if not _known(column):  # a type this module does not know yet: its text, as text
        return sql.SQL(TEXT_CELL).format(v=sql.SQL("({})::text").format(column.expr))
    if _is_text(column):
        if plain:
            return sql.SQL(PLAIN_CELL).format(raw=column.expr, v=neutralised_expr(column))
        return sql.SQL(TEXT_CELL).format(v=neutralised_expr(column))
    if field.sql_type == "uuid":
        return sql.SQL(PLAIN_TEXT_CELL).format(v=column.expr)
    return sql.SQL(_TYPED_CELLS[field.type]).format(v=column.expr)


def row_select_list(columns: Sequence[Column]) -> list[sql.Composable]:
    """The one-column projection of a sheet row: `<row>` and its cells, as `xml`.

    One test per row, on its text fields joined (ROW_TEXT_IS_PLAIN), picks the cells:
    plain when nothing in the row's text needs escaping or `xml:space` (most rows),
    else each text cell escaped (TEXT_CELL): one regular expression per row instead of
    one per cell, and each neutralised value computed once on the plain path."""
    texts = [c.expr for c in columns if _is_text(c) or not _known(c)]
    escaped = sql.SQL(", ").join(cell_expr(c) for c in columns)
    if not texts:
        return [sql.SQL("concat('<row>', {}, '</row>') AS xml").format(escaped)]
    plain = sql.SQL(", ").join(cell_expr(c, plain=True) for c in columns)
    # each value's length (NULLs ignored; all NULL: NULL, the escaped path, still right)
    lengths = sql.SQL(", ").join(sql.SQL("octet_length(({})::text)").format(t) for t in texts)
    joined = sql.SQL("concat_ws(E'\\x7f', {})").format(
        sql.SQL(", ").join(sql.SQL("({})::text").format(t) for t in texts)
    )
    return [
        sql.SQL(ROW_XML).format(
            plain_check=sql.SQL(ROW_TEXT_IS_PLAIN).format(text=joined, lengths=lengths),
            plain=plain,
            escaped=escaped,
        )
    ]

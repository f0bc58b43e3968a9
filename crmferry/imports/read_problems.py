"""Rows the file itself gets wrong (an unclosed quote, more cells than the header), as the
reader finds them: kept beside the staging table and added to the rows' errors, so that
the report names them and the error policy applies to them as to a bad cell.

The reader tells each problem while staging streams the file; they are written out
after each staged batch, so memory holds one batch's problems at most.
"""

from __future__ import annotations

from psycopg import sql

from crmferry.db import Conn
from crmferry.imports.reading import RowProblem
from crmferry.imports.validate import ROWS_TABLE, SEP

PROBLEMS_TABLE = "import_read_problems"

_CREATE = """
CREATE TEMP TABLE {problems} (row_number integer NOT NULL, column_name text NOT NULL,
                              message text NOT NULL) ON COMMIT DROP
"""

_COPY = "COPY {problems} (row_number, column_name, message) FROM STDIN"

# The file's own problem comes first: it is why the row's cells may be wrong.
_MARK = """
UPDATE {rows} AS r
   SET errors = p.items || r.errors
  FROM (SELECT row_number, array_agg(column_name || {sep} || message) AS items
          FROM {problems} GROUP BY row_number) AS p
 WHERE p.row_number = r.row_number
"""


class ReadProblems:
    """Collects a run's RowProblems (`add` is the reader's sink) and stores them."""

    def __init__(self) -> None:
        self._pending: list[RowProblem] = []

    def add(self, problem: RowProblem) -> None:
        self._pending.append(problem)

    def create_table(self, conn: Conn) -> None:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(PROBLEMS_TABLE)))
        conn.execute(sql.SQL(_CREATE).format(problems=sql.Identifier(PROBLEMS_TABLE)))

    def flush(self, conn: Conn) -> None:
        """Write the problems told so far (between two staged batches)."""
        if not self._pending:
            return
        statement = sql.SQL(_COPY).format(problems=sql.Identifier(PROBLEMS_TABLE))
        with conn.cursor() as cur, cur.copy(statement) as copy:
            for p in self._pending:
                copy.write_row((p.row_number, _text(p.column), _text(p.message)))
        self._pending.clear()

    def mark_rows(self, conn: Conn) -> None:
        """Add the stored problems to the errors of their rows in `import_rows`."""
        self.flush(conn)
        conn.execute(
            sql.SQL(_MARK).format(
                rows=sql.Identifier(ROWS_TABLE),
                problems=sql.Identifier(PROBLEMS_TABLE),
                sep=sql.Literal(SEP),
            )
        )


def _text(value: str) -> str:
    return value.replace("\x00", "")  # PostgreSQL text holds no NUL

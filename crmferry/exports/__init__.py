"""Exports: contacts, inventory and bids streamed from PostgreSQL into CSV, XLSX or JSON Lines.

`options` checks and normalises what a user asks for (fields, filters, sort, format);
`query` turns it into one SELECT (identifiers from the data-type description, values
bound); `snapshot` opens the REPEATABLE READ snapshot an export reads from (and shares
it with a second connection); `writers.write_export` streams that SELECT into a file:
`copy_writer` for CSV and JSON Lines (COPY data read through `streams`, a large CSV
export as two COPYs at once, `split`), `xlsx_writer` for XLSX (a server-side cursor),
text cells neutralised against spreadsheet formula injection by the one rule in
`formulas`; `naming` names the result file.
"""

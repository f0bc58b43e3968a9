"""Exports: contacts, inventory and bids streamed from PostgreSQL into CSV, XLSX or JSON Lines.

`options` checks and normalises what a user asks for (fields, filters, sort, format);
`query` turns it into one SELECT (identifiers from the data-type description, values
bound); `snapshot` opens the REPEATABLE READ snapshot an export reads from (and shares
it with a second connection); `writers` streams that SELECT into a file (COPY for CSV
and JSON Lines, a server-side cursor for XLSX) with spreadsheet formula injection
neutralised, reading COPY data through `streams`, a large CSV export as two COPYs at
once (`split`); `naming` names the result file.
"""

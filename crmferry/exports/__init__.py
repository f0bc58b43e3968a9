"""Exports: contacts, inventory and bids streamed from PostgreSQL into CSV, XLSX or JSON Lines.

`options` checks and normalises what a user asks for (fields, filters, sort, format);
`query` turns it into one SELECT (identifiers from the data-type description, values
bound) and opens the REPEATABLE READ snapshot an export reads from; `writers` streams
that SELECT into a file (COPY for CSV and JSON Lines, a server-side cursor for XLSX)
with spreadsheet formula injection neutralised; `naming` names the result file.
"""

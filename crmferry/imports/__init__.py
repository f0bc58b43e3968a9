"""Imports: read a file, map its columns, stage it with COPY, validate and merge set-based."""

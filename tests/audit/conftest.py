"""Audit test fixtures: the imports' helper that uploads and runs an import."""

from __future__ import annotations

from tests.imports.conftest import importer

__all__ = ["importer"]

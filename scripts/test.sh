#!/usr/bin/env bash
# The whole test suite on a fresh machine: venv, dependencies, lint, types, tests.
# PostgreSQL: embedded by default; set DATABASE_URL to test against a server.
# Browser tests use Debian's Chromium (/usr/bin/chromium): installed here when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "== installing Debian's chromium (browser tests)"
  apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
echo "== installing the package and its test dependencies"
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'

if [ "${CRMFERRY_SKIP_LINT:-}" != "1" ]; then
  echo "== ruff"
  lint_paths=(crmferry tests)
  [ -d bench ] && lint_paths+=(bench)
  .venv/bin/ruff check "${lint_paths[@]}"
  .venv/bin/ruff format --check "${lint_paths[@]}"
  echo "== mypy"
  .venv/bin/mypy
fi

echo "== pytest (database: ${DATABASE_URL:-embedded PostgreSQL})"
exec .venv/bin/python -m pytest "$@"

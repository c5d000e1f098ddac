#!/usr/bin/env bash
# Make sure the local PostgreSQL (127.0.0.1:5432) the tests use is running.
set -euo pipefail
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then exit 0; fi
if command -v pg_ctlcluster >/dev/null; then
  ver=$(ls /etc/postgresql | sort -n | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
fi
for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && exit 0; sleep 1; done
echo "error: PostgreSQL is not running at 127.0.0.1:5432" >&2
exit 1

#!/usr/bin/env bash
# Debian packages the tests use: docker-compose (compose validation), chromium + driver (browser
# tests). Installed only when missing; needs root (as on the dev machines and CI).
set -euo pipefail
need=()
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v initdb >/dev/null 2>&1 || [ -x "$(pg_config --bindir 2>/dev/null)/initdb" ] || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing system packages: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "warning: missing system packages (${need[*]}); install them with apt-get as root" >&2
  fi
fi

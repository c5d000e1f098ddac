#!/usr/bin/env bash
# Validate docker-compose.yml, default and `--profile distributed`. Compose refuses to render
# without its secrets (`${VAR:?}`, no defaults): with no `.env`/`helios.env` here, validate a copy
# in a temporary folder with placeholder secrets made from the documented examples.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.
if [ ! -f .env ] || [ ! -f helios.env ]; then
  dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
  cp -r docker-compose.yml Dockerfile deploy "$dir/"
  sed -E 's/^([A-Z_]+(PASSWORD|KEY|SECRET))=$/\1=placeholder-not-a-secret/' .env.example >"$dir/.env"
  sed 's/<password>/placeholder-not-a-secret/' helios.env.example >"$dir/helios.env"
  echo "no .env/helios.env here: validating with placeholder secrets from the examples"
fi
(cd "$dir" && docker-compose -f docker-compose.yml config -q && docker-compose -f docker-compose.yml --profile distributed config -q)
echo "docker-compose.yml: default and distributed profiles valid"

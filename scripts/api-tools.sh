#!/usr/bin/env bash
# Installs the outside clients the API contract tests drive, at the versions pinned in
# scripts/npm/package-lock.json, into var/npm (tests/test_postman_newman.py):
#   openapi-to-postmanv2  the converter Postman's importer uses (OpenAPI -> collection)
#   newman                Postman's command-line collection runner
# Does nothing when they are installed at those versions already. Needs node and npm
# (Debian: apt-get install npm). The generated Python client's generator,
# openapi-python-client, is a pip package: requirements-dev.txt pins it.
set -euo pipefail
cd "$(dirname "$0")/.."

target=var/npm
if ! command -v npm >/dev/null; then
  echo "api-tools.sh: npm not found; install node and npm (Debian: apt-get install npm)" >&2
  exit 1
fi
mkdir -p "$target"
if cmp -s scripts/npm/package-lock.json "$target/package-lock.json" \
  && [ -x "$target/node_modules/.bin/newman" ] && [ -x "$target/node_modules/.bin/openapi2postmanv2" ]; then
  exit 0
fi
cp scripts/npm/package.json scripts/npm/package-lock.json "$target/"
# ci: exactly the locked versions, a clean node_modules; bounded in time like every external call.
timeout 600 npm ci --prefix "$target" --no-audit --no-fund --loglevel=error
echo "api-tools.sh: $("$target/node_modules/.bin/newman" --version | sed 's/^/newman /'), openapi-to-postmanv2 $(node -p "require('./$target/node_modules/openapi-to-postmanv2/package.json').version")"

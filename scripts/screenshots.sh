#!/usr/bin/env bash
# Regenerates the README's screenshots in assets/ with headless Chromium
# (apt-get install chromium) against a throwaway embedded-mode server.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${PORT:-8765}
export VAR_DIR; VAR_DIR=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$VAR_DIR"' EXIT
.venv/bin/python manage.py migrate -v0
.venv/bin/python manage.py collect >/dev/null
.venv/bin/python manage.py runserver "127.0.0.1:$port" --noreload >/dev/null 2>&1 &
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/monitor/" && break; sleep 0.2; done
# The notes' example, as in their screenshot.
id=$(curl -s -X POST "http://127.0.0.1:$port/monitor/resources/" -H 'Content-Type: application/json' \
  -d '{"name": "CPU Usage", "value": 75.5, "description": "Average CPU usage in percentage"}' \
  | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["id"])')
shot() {  # shot <file> <url>
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$VAR_DIR/chrome" --hide-scrollbars \
    --window-size=1200,900 --virtual-time-budget=8000 --screenshot="assets/$1" "$2" 2>/dev/null
}
shot PostResource.png "http://127.0.0.1:$port/monitor/resources/$id/"
shot ResourceList.png "http://127.0.0.1:$port/monitor/resources/?page_size=8"
shot Latest.png "http://127.0.0.1:$port/monitor/resources/latest/?name_prefix=memory."
shot SwaggerUI.png "http://127.0.0.1:$port/monitor/docs/"
ls -l assets/

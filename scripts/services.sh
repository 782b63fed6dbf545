#!/usr/bin/env bash
# Starts MariaDB and Redis on this machine if they are not answering, and waits
# until both do. Used by .ci/run; developers can run it too (DEVELOPERS.md).
set -euo pipefail

wait_until() {  # wait_until <seconds> <description> <command...>
  local seconds=$1 what=$2; shift 2
  for _ in $(seq "$((seconds * 5))"); do
    if "$@" >/dev/null 2>&1; then echo "$what: up"; return 0; fi
    sleep 0.2
  done
  echo "$what: not answering after ${seconds}s" >&2
  return 1
}

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  command -v redis-server >/dev/null || { echo "redis-server is not installed (apt-get install redis-server)" >&2; exit 1; }
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi
wait_until 20 redis redis-cli -h 127.0.0.1 -p 6379 ping

if ! mysqladmin -h 127.0.0.1 -u root ping >/dev/null 2>&1; then
  [ -x /usr/sbin/mariadbd ] || { echo "MariaDB is not installed (apt-get install mariadb-server)" >&2; exit 1; }
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
fi
wait_until 60 mariadb mysqladmin -h 127.0.0.1 -u root ping

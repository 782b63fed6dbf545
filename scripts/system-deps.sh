#!/usr/bin/env bash
# Installs the system packages that pip cannot: the MySQL/MariaDB client headers
# mysqlclient compiles against, and pkg-config which finds them. Does nothing
# when they are already there; on a machine without apt it says what to install.
set -euo pipefail

if pkg-config --exists mysqlclient 2>/dev/null || pkg-config --exists libmariadb 2>/dev/null; then
  exit 0
fi
packages=(pkg-config default-libmysqlclient-dev build-essential python3-dev)
if ! command -v apt-get >/dev/null; then
  echo "mysqlclient needs the MySQL client headers and pkg-config; install them with your package manager" >&2
  echo "(Debian/Ubuntu: ${packages[*]}; Fedora: mariadb-connector-c-devel pkgconf; macOS: brew install mysql-client pkg-config)" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
# Another apt (unattended-upgrades on a new machine, a second `make install`)
# may hold the lock for a while: wait for it rather than fail the install.
apt_waiting() {
  local attempt log
  log=$(mktemp)
  for attempt in $(seq 1 60); do
    if $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 "$@" 2>"$log"; then
      rm -f "$log"
      return 0
    fi
    if ! grep -q "Could not get lock\|Unable to lock" "$log"; then
      cat "$log" >&2
      rm -f "$log"
      return 1
    fi
    echo "apt is busy (another apt-get holds its lock); retrying in 5 s ($attempt/60)" >&2
    sleep 5
  done
  cat "$log" >&2
  rm -f "$log"
  return 1
}
echo "installing system packages for mysqlclient: ${packages[*]}"
apt_waiting update -q
apt_waiting install -y -q "${packages[@]}"

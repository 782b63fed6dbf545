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
echo "installing system packages for mysqlclient: ${packages[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${packages[@]}"

#!/usr/bin/env bash
# Installs the system packages that pip cannot: the MySQL/MariaDB client headers
# mysqlclient compiles against, and pkg-config which finds them. Does nothing
# when they are already there; on a machine without apt it says what to install.
#
#   scripts/system-deps.sh                  what `make install` needs
#   scripts/system-deps.sh nginx chromium   also what the test suite drives (.ci/run):
#     nginx   nginx and openssl, for tests/test_slow_clients.py
#     chromium  headless Chromium and its driver, for the browser tests (Selenium)
#     gettext   xgettext and msgfmt, for the test that the Chinese catalog covers the code
#     prometheus  Prometheus, promtool and node_exporter, for tests/test_prometheus_*.py
#     alertmanager  Prometheus Alertmanager, for tests/test_alert_delivery_alertmanager.py
set -euo pipefail

packages=()
if ! pkg-config --exists mysqlclient 2>/dev/null && ! pkg-config --exists libmariadb 2>/dev/null; then
  packages+=(pkg-config default-libmysqlclient-dev build-essential python3-dev)
fi
new_nginx=0
new_prometheus=()
for extra in "$@"; do
  case "$extra" in
    nginx)
      if [ ! -x /usr/sbin/nginx ]; then packages+=(nginx); new_nginx=1; fi
      command -v openssl >/dev/null || packages+=(openssl)
      ;;
    chromium)
      command -v chromium >/dev/null || packages+=(chromium)
      command -v chromedriver >/dev/null || packages+=(chromium-driver)
      ;;
    gettext) command -v xgettext >/dev/null || packages+=(gettext) ;;
    prometheus)
      if [ ! -x /usr/bin/prometheus ]; then packages+=(prometheus); new_prometheus+=(prometheus); fi
      if [ ! -x /usr/bin/prometheus-node-exporter ]; then
        packages+=(prometheus-node-exporter); new_prometheus+=(prometheus-node-exporter)
      fi
      ;;
    alertmanager)
      if [ ! -x /usr/bin/prometheus-alertmanager ]; then
        packages+=(prometheus-alertmanager); new_prometheus+=(prometheus-alertmanager)
      fi
      ;;
    *) echo "system-deps.sh: unknown extra '$extra' (known: nginx chromium gettext prometheus alertmanager)" >&2; exit 2 ;;
  esac
done
[ ${#packages[@]} -gt 0 ] || exit 0
if ! command -v apt-get >/dev/null; then
  echo "needed: ${packages[*]} (Debian/Ubuntu package names); install them with your package manager" >&2
  echo "(mysqlclient: Fedora mariadb-connector-c-devel pkgconf; macOS: brew install mysql-client pkg-config)" >&2
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
echo "installing system packages: ${packages[*]}"
apt_waiting update -q
apt_waiting install -y -q "${packages[@]}"

# Debian's package starts nginx on port 80 and enables it at boot. The tests run
# their own nginx on spare ports; one we installed is stopped and disabled again
# (where policy-rc.d forbade the start, as in containers, there is nothing to stop).
if [ "$new_nginx" = 1 ]; then
  if [ -d /run/systemd/system ]; then
    $sudo systemctl disable --now nginx.service
  elif [ -x /etc/init.d/nginx ]; then
    $sudo /etc/init.d/nginx stop >/dev/null 2>&1 || true
    $sudo update-rc.d nginx disable >/dev/null 2>&1 || true
  fi
fi

# Debian's packages start Prometheus (9090), node_exporter (9100) and Alertmanager (9093) as services. The
# tests run private ones on spare ports with their own configuration and data folders;
# the services we installed are stopped and disabled again.
for service in "${new_prometheus[@]}"; do
  if [ -d /run/systemd/system ]; then
    $sudo systemctl disable --now "$service.service" || true
  elif [ -x "/etc/init.d/$service" ]; then
    $sudo "/etc/init.d/$service" stop >/dev/null 2>&1 || true
    $sudo update-rc.d "$service" disable >/dev/null 2>&1 || true
  fi
done

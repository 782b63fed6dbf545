#!/usr/bin/env python3
"""Render the shipped nginx site (db_django.conf) into a standalone nginx configuration.

For trying the production layout on one machine, as any user, and for
tests/test_slow_clients.py. The site stays the file an operator installs; only its
machine-specific lines change (listen ports, upstream, certificate, server name),
each of which must be found exactly once, so a change to the site that this
script does not know about stops it instead of rendering something else. Around
the site goes a main context that keeps the pid file, logs and temp files under
one folder, so `nginx -p FOLDER -c nginx.conf` needs no root and leaves any
system nginx alone.

    .venv/bin/python deploy/nginx/render.py --prefix var/nginx \
        --cert var/nginx/localhost.crt --key var/nginx/localhost.key
"""

import argparse
import os
import pwd
import re
import shutil
import sys
import textwrap
from pathlib import Path

SITE = Path(__file__).resolve().with_name("db_django.conf")


def render_site(
    site: str, *, http_port: int, https_port: int, upstream: str, cert: Path, key: Path, server_name: str
) -> str:
    """The site with its machine-specific lines replaced; loopback-only listeners."""
    redirect_port = "" if https_port == 443 else f":{https_port}"
    replacements = [
        (r"^(\s*)listen 80;$", rf"\g<1>listen 127.0.0.1:{http_port};"),
        (r"^(\s*)listen 443 ssl http2;$", rf"\g<1>listen 127.0.0.1:{https_port} ssl http2;"),
        (r"^\s*listen \[::\]:80;\n", ""),
        (r"^\s*listen \[::\]:443 ssl http2;\n", ""),
        (r"^(\s*)server 127\.0\.0\.1:8000 ", rf"\g<1>server {upstream} "),
        (r"^(\s*)server_name monitor\.example\.com;$", rf"\g<1>server_name {server_name};"),
        (r"^(\s*)ssl_certificate \S+;$", rf"\g<1>ssl_certificate {cert};"),
        (r"^(\s*)ssl_certificate_key \S+;$", rf"\g<1>ssl_certificate_key {key};"),
        (r"return 301 https://\$host\$request_uri;", f"return 301 https://$host{redirect_port}$request_uri;"),
    ]
    for pattern, replacement in replacements:
        site, count = re.subn(pattern, lambda m, r=replacement: m.expand(r), site, flags=re.MULTILINE)
        if count != 1:
            raise SystemExit(f"{SITE}: expected exactly one line matching {pattern!r}, found {count}")
    return site


def render(
    prefix: Path, *, http_port: int, https_port: int, upstream: str, cert: Path, key: Path, server_name: str
) -> str:
    """A whole nginx.conf: the rendered site inside a main context rooted at `prefix`."""
    site = render_site(
        SITE.read_text(),
        http_port=http_port,
        https_port=https_port,
        upstream=upstream,
        cert=cert,
        key=key,
        server_name=server_name,
    )
    # Started as root, nginx would run its workers as "nobody", who may not be able
    # to reach temp files under the prefix (a checkout in /root). A try-out runs
    # entirely as the user who starts it; the real deployment uses Debian's nginx.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    temp = prefix / "tmp"
    return (
        f"# Rendered by deploy/nginx/render.py from {SITE}: edit that file and render again.\n"
        f"{user}"
        "worker_processes 1;\n"
        f"pid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'};\n"
        "events {\n    worker_connections 1024;\n}\n"
        "http {\n"
        f"    access_log {prefix / 'access.log'};\n"
        f"    client_body_temp_path {temp / 'body'};\n"
        f"    proxy_temp_path {temp / 'proxy'};\n"
        f"    fastcgi_temp_path {temp / 'fastcgi'};\n"
        f"    uwsgi_temp_path {temp / 'uwsgi'};\n"
        f"    scgi_temp_path {temp / 'scgi'};\n\n"
        f"{textwrap.indent(site, '    ')}"
        "}\n"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefix", type=Path, required=True, help="folder for nginx.conf, pid, logs and temp files")
    parser.add_argument("--http-port", type=int, default=8080, help="plain HTTP (default 8080)")
    parser.add_argument("--https-port", type=int, default=8443, help="HTTPS (default 8443)")
    parser.add_argument("--upstream", default="127.0.0.1:8000", help="gunicorn's address (default 127.0.0.1:8000)")
    parser.add_argument("--cert", type=Path, required=True, help="TLS certificate (PEM)")
    parser.add_argument("--key", type=Path, required=True, help="its private key (PEM)")
    parser.add_argument("--server-name", default="localhost", help="server_name (default localhost)")
    args = parser.parse_args(argv)

    prefix = args.prefix.resolve()
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    for path in (args.cert, args.key):
        if not path.is_file():
            raise SystemExit(f"{path}: no such file (see the openssl command in {SITE.name})")
    conf = prefix / "nginx.conf"
    conf.write_text(
        render(
            prefix,
            http_port=args.http_port,
            https_port=args.https_port,
            upstream=args.upstream,
            cert=args.cert.resolve(),
            key=args.key.resolve(),
            server_name=args.server_name,
        )
    )
    # Debian puts nginx in /usr/sbin, which is not on a normal user's PATH.
    nginx = shutil.which("nginx", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"]))
    print(f"wrote {conf}", file=sys.stderr)
    print(f"start: {nginx or 'nginx'} -p {prefix} -c {conf}", file=sys.stderr)
    print(f"stop:  {nginx or 'nginx'} -p {prefix} -c {conf} -s quit", file=sys.stderr)


if __name__ == "__main__":
    main()

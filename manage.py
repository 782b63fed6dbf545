#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "db_django.settings")
    from django.core.management import execute_from_command_line

    from db_django.env import ConfigError

    try:
        execute_from_command_line(sys.argv)
    except ConfigError as exc:  # a malformed environment variable: its message says which and why
        sys.stderr.write(f"configuration error: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()

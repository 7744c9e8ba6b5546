"""The README's and docs' commands work as written (issue 22, item 23): on a fresh
clone the system Python has no Django, so every `manage.py` line goes
through `./hub manage` (development) or the venv's Python (production),
and nothing needs `sudo`, which a minimal Debian lacks."""

import os
import re
import subprocess
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
README = "\n".join(page.read_text() for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])

# `manage.py` run some other way than these two.
BARE_MANAGE = re.compile(r"(?<!\.venv/bin/python )(?<![\w/-])(?:\./manage\.py|python3? manage\.py)")


def clean_environment() -> dict:
    """A shell as a newcomer has it: none of the test run's settings."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HUB_", "DATABASE_", "DJANGO_", "DEBUG", "SECRET_KEY"))
    }


def test_the_readme_runs_manage_py_through_the_hub_or_the_venv_python():
    assert BARE_MANAGE.findall(README) == []


def test_the_readme_never_asks_for_sudo():
    assert re.findall(r"\bsudo\b.*", README) == []


def test_every_hub_manage_command_in_the_readme_exists():
    commands = sorted(set(re.findall(r"\./hub manage ([a-z_]+)", README)))
    assert "axes_reset_username" in commands  # the line people reach for first
    for command in commands:
        result = subprocess.run(
            [str(ROOT / "hub"), "manage", command, "--help"],
            env=clean_environment(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"./hub manage {command}: {result.stderr[-2000:]}"


def test_every_venv_manage_command_in_the_readme_exists():
    listed = subprocess.run(
        [str(ROOT / "hub"), "manage", "help", "--commands"],
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.split()
    named = set(re.findall(r"\.venv/bin/python manage\.py ([a-z_]+)", README))
    assert named and named <= set(listed), named - set(listed)

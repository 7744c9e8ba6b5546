"""The developer tools stay out of a clinic's Hub: the Hub's settings never
install them and its apps never import them; `./hub bench` and
`./hub mutants` run under devtools.settings, which adds them."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.urls import Resolver404, resolve

from devtools.management.commands import bench

ROOT = Path(settings.BASE_DIR)
THE_HUB = ("schedules", "patients", "confirmations", "booking", "hubsite")


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_app_of_the_hub_imports_the_developer_tools():
    importing = [
        str(path.relative_to(ROOT))
        for app in THE_HUB
        for path in sorted((ROOT / app).rglob("*.py"))
        if any(name.split(".")[0] == "devtools" for name in imported(path))
    ]
    assert importing == []


def run_manage(settings_module: str, *arguments: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DATABASE_", "DEBUG"))}
    env |= {"DJANGO_SETTINGS_MODULE": settings_module, "DEBUG": "1"}
    command = [sys.executable, "manage.py", *arguments]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_only_the_developer_settings_have_the_bench_and_mutants_commands():
    assert "devtools" not in settings.INSTALLED_APPS
    listed = run_manage("devtools.settings", "help", "--commands").stdout.split()
    assert {"bench", "mutants"} <= set(listed)
    assert {"bench", "mutants"}.isdisjoint(run_manage("hubsite.settings", "help", "--commands").stdout.split())


def test_the_bare_page_bench_measures_against_is_served_by_the_developer_urls_only():
    assert resolve("/bench/bare/", urlconf="devtools.urls").func(None).content == b"ok"
    with pytest.raises(Resolver404):
        resolve("/bench/bare/", urlconf=settings.ROOT_URLCONF)


@pytest.mark.django_db
def test_bench_refuses_any_database_but_a_throwaway_one():
    # It sends every due message with local channels and withdraws pending ones.
    with pytest.raises(CommandError, match="only on a throwaway database"):
        call_command(bench.Command(), only="dispatch", runs=1)

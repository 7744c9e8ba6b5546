"""The project carries its own rulebook (docs/rules.md): a clone has no
other copy, and code, tests and README cite its codes."""

import re
from pathlib import Path

from django.conf import settings

RULES = (Path(settings.BASE_DIR) / "docs" / "rules.md").read_text()


def test_every_rule_and_decision_is_defined_once():
    defined = re.findall(r"^- \*\*([RD]\d+)\.\*\*", RULES, flags=re.MULTILINE)
    expected = [f"R{n}" for n in range(1, 30)] + [f"D{n}" for n in range(1, 26)]
    assert sorted(defined) == sorted(expected)

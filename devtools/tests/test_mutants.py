"""The mutation tool itself (devtools/mutants.py): each mutant is one real
change that still compiles, and the equivalent list names mutants by their
code, as written."""

import ast
import json
import os
import re
import subprocess
import sys

import pytest

from devtools import mutants


def test_each_mutant_is_one_change_that_compiles():
    original = ast.unparse(ast.parse(mutants.source_of("confirmations.keywords")))
    found = mutants.mutants_of("confirmations.keywords")
    assert {"In → NotIn", "call deleted", "returns None", "not dropped"} <= {m.what for m in found}
    variants = set()
    for mutant in found:
        tree = mutants.mutated_tree(mutant.module, mutant.index)
        compile(tree, "mutant", "exec")
        variants.add(ast.unparse(tree))
    assert original not in variants and len(variants) == len(found)


def test_the_rules_module_gets_the_mutations_the_issue_names():
    kinds = {m.what.split(" → ")[0] if "→" in m.what else m.what for m in mutants.mutants_of("confirmations.rules")}
    assert {"Lt", "LtE", "GtE", "Eq", "NotEq", "And", "Or", "True", "48", "4", "returns None", "call deleted"} <= kinds


def test_the_equivalent_list_reads_names_by_code_and_ignores_reasons(tmp_path, monkeypatch):
    listed = tmp_path / "equivalent.txt"
    listed.write_text(
        "# header\n\n"
        "confirmations.rules:call_time  Lt → LtE\n"
        "    if at < NINE:  # not a comment here: the line as written\n"
        "    why: the same at the boundary\n\n"
        "outbox.dispatch:Senders.__exit__  True → False  (2nd)\n"
        "    self.pool.shutdown(wait=True, cancel_futures=True)\n"
        "    why: the same\n"
    )
    monkeypatch.setattr(mutants, "EQUIVALENT", listed)
    assert mutants.equivalent() == {
        mutants.Name(
            "confirmations.rules", "call_time", "if at < NINE:  # not a comment here: the line as written", "Lt → LtE"
        ),
        mutants.Name(
            "outbox.dispatch",
            "Senders.__exit__",
            "self.pool.shutdown(wait=True, cancel_futures=True)",
            "True → False",
            2,
        ),
    }


@pytest.mark.parametrize(
    "entry",
    [
        "confirmations.rules:10:Lt → LtE  # the old form, by line number\n",
        "confirmations.rules:call_time  Lt → LtE\n    if at < NINE:\n",  # no why
        "confirmations.rules:call_time  Lt → LtE\nif at < NINE:\n    why: its line not indented\n",
    ],
)
def test_an_entry_not_in_the_form_is_refused_rather_than_read_as_another_mutant(tmp_path, monkeypatch, entry):
    listed = tmp_path / "equivalent.txt"
    listed.write_text(entry)
    monkeypatch.setattr(mutants, "EQUIVALENT", listed)
    with pytest.raises(ValueError, match="why"):
        mutants.equivalent()


def test_a_survivor_as_printed_is_an_entry_of_the_list_once_it_says_why(tmp_path, monkeypatch):
    found = [m for m in mutants.mutants_of("outbox.dispatch") if m.nth == 2 or m.function == "batch_size"]
    listed = tmp_path / "equivalent.txt"
    listed.write_text("".join(f"{mutant.entry()}\n    why: a reason\n\n" for mutant in found))
    monkeypatch.setattr(mutants, "EQUIVALENT", listed)
    assert mutants.equivalent() == {mutant.key for mutant in found}


def test_a_mutant_keeps_its_name_when_lines_are_added_above_it_or_its_comment_changes():
    source = mutants.source_of("confirmations.rules")
    first_def = source.index("\ndef ") + 1
    moved = source[:first_def] + "SPARE = 1\n\n\n" + source[first_def:].replace("  # R16", "  # R16, said otherwise")
    before, after = mutants.mutants_of("confirmations.rules"), mutants.mutants_of("confirmations.rules", moved)
    added = {mutant.key for mutant in after} - {mutant.key for mutant in before}
    assert {name.code for name in added} == {"SPARE = 1"}  # its own two mutants (1 → 2, 1 → 0), nothing else
    named = {mutant.key: mutant.line for mutant in after}
    assert all(
        named[mutant.key] == mutant.line + 3 for mutant in before if mutant.line > source[:first_def].count("\n")
    )


def test_the_same_change_of_the_same_line_twice_in_a_function_is_numbered_in_reading_order():
    source = "def fee(age):\n    if age < 18:\n        return 0\n    if age < 18:  # again\n        return 1\n\n\ndef other(age):\n    return age < 18\n"
    lt = {(m.function, m.line): m.nth for m in mutants.mutants_of("clinic.fees", source) if m.what == "Lt → LtE"}
    assert lt == {("fee", 2): 1, ("fee", 4): 2, ("other", 9): 0}


def test_a_decorator_or_a_default_belongs_to_what_it_decorates_and_methods_to_their_class():
    source = "@dataclass(frozen=True)\nclass Visit:\n    def late(self, grace=False):\n        def by(minutes):\n            return minutes > 5\n        return by\n"
    where = sorted((m.function, m.what) for m in mutants.mutants_of("clinic.visits", source))
    assert where == [("Visit", "True → False"), ("Visit.late", "False → True"), ("Visit.late", "returns None"),
                     ("Visit.late.by", "5 → 4"), ("Visit.late.by", "5 → 6"), ("Visit.late.by", "Gt → GtE"),
                     ("Visit.late.by", "returns None")]  # fmt: skip


def test_each_job_on_postgresql_has_a_database_of_its_own_and_sqlite_is_the_default():
    environ = {"PATH": "/bin", "DATABASE_URL": "postgres://x@h/ci", "HUB_REQUIRE_POSTGRES": "1", "HUB_MUTANT": "{}",
               "HUB_MUTANT_TESTS": "t.txt", "COVERAGE_PROCESS_START": ".coveragerc",
               "DJANGO_SETTINGS_MODULE": "devtools.settings"}  # fmt: skip
    assert mutants.test_environment(environ, None, 0) == {"PATH": "/bin"}
    assert [mutants.test_environment(environ, "postgres://postgres@127.0.0.1:5432/hub", job) for job in (0, 1)] == [
        {"PATH": "/bin", "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/hub_mutants_0"},
        {"PATH": "/bin", "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/hub_mutants_1"},
    ]


def test_every_listed_equivalent_is_a_mutant_of_the_code_as_it_is():
    """An edit of a listed line (or a second one like it in its function)
    would leave a stale entry that excuses nothing: the list must follow the
    code."""
    made = {mutant.key for module in mutants.MODULES for mutant in mutants.mutants_of(module)}
    assert sorted(mutants.equivalent() - made) == []


def test_a_mutant_meets_the_tests_that_run_its_lines_or_all_of_them():
    mutant = mutants.Mutant("confirmations.rules", 0, 10, "Lt → LtE", last_line=11)
    by_line = {10: {"t.py::a"}, 11: {"t.py::b"}, 12: {"t.py::c"}}
    assert mutants.tests_for(mutant, by_line) == {"t.py::a", "t.py::b"}
    # A line run at import (a constant, a default): every test may see it.
    assert mutants.tests_for(mutant, {**by_line, 11: {"", "t.py::b"}}) is None
    # A line no test seems to run (a thread, another process): all of them.
    assert mutants.tests_for(mutant, {12: {"t.py::c"}}) is None


def test_a_first_run_under_coverage_says_which_test_runs_which_line_and_a_mutant_run_takes_only_those(tmp_path):
    """The real thing: pytest with `-p devtools.mutants`, on links.py and two
    tests of the content that make links."""
    test = "confirmations/tests/test_content.py::TestEmail::test_r21_r22_buttons_link_to_signed_patient_pages"
    data = tmp_path / "coverage"
    env = {**mutants.test_environment(os.environ, None, 0)}
    measuring = {"HUB_MUTANT_COVERAGE": json.dumps({"module": "confirmations.links", "data": str(data)})}
    run = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "devtools.mutants"]
    done = subprocess.run([*run, test], env={**env, **measuring}, cwd=mutants.ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
    by_line = mutants.tests_by_line("confirmations.links", str(data))
    functions = {
        node.name: node for node in ast.parse(mutants.source_of("confirmations.links")).body if hasattr(node, "body")
    }
    making, reading = functions["token_for"], functions["read"]
    assert by_line[making.body[0].lineno] == {f"{test}[fr]", f"{test}[en]"}
    assert "" in by_line[making.lineno]  # the `def` line runs at import
    assert reading.body[0].lineno not in by_line  # these tests never read a link

    chosen = tmp_path / "tests.txt"
    chosen.write_text(f"{test}[en]\n")
    done = subprocess.run(
        [*run, "confirmations/tests/test_content.py"],
        env={**env, "HUB_MUTANT_TESTS": str(chosen)},
        cwd=mutants.ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and re.search(r"^1 passed, \d+ deselected", done.stdout, re.M), done.stdout


def test_only_names_a_module_by_its_last_part_or_by_its_full_name_when_an_earlier_one_has_that_part():
    assert mutants.short_names()["confirmations.rules"] == "rules"
    assert mutants.short_names()["booking.rules"] == "booking.rules"
    assert mutants.short_names()["booking.waitlist"] == "waitlist"
    assert mutants.chosen("waitlist, rules") == ["confirmations.rules", "booking.waitlist"]
    assert mutants.chosen("booking.rules,confirmations.keywords") == ["confirmations.keywords", "booking.rules"]
    assert mutants.chosen("rules,nothing") is None

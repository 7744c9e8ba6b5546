"""Mutation testing of the core: does a small wrong change to the code make
a test fail? (`./hub mutants`)

Each mutant is one change of the kind a slip of the keyboard makes: a
comparison turned (`<` → `<=`, `==` → `!=`, `in` → `not in`), `and` ↔ `or`,
a `not` dropped, a number ±1, `True` ↔ `False`, `+` ↔ `-`, a statement
that only calls something deleted, a returned value replaced by None. The
module's own tests then run on it, in a separate process (the working tree
is never touched: `-p devtools.mutants` puts the mutated module in place as
it is imported). A test that fails kills the mutant; a mutant that
survives is a change no test notices.

To be quick, a mutant first meets only the tests that run its lines (a
first run of the module's tests under coverage.py says which test runs
which line); one that survives them meets all the module's tests before it
is called a survivor. The figures are then those of running every test on
every mutant, as long as the tests do not depend on the order they run in
(each test's database is rolled back, and fixtures reset the settings,
the cache and the recording channel).

A survivor that truly cannot change behaviour is listed, with why, in
devtools/mutants-equivalent.txt and left out of the score. The list names
each by its code (module, function, line as written, change), never by a
line number, so that it still holds when lines are added above.
"""

import ast
import copy
import importlib.abc
import importlib.util
import io
import json
import os
import re
import sys
import tokenize
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT = Path(__file__).with_name("mutants-equivalent.txt")

# The core modules and the tests that speak for them.
MODULES = {
    "confirmations.rules": ["confirmations/tests/test_rules.py", "confirmations/tests/test_planning.py"],
    "confirmations.planning": [
        "confirmations/tests/test_planning.py",
        "confirmations/tests/test_events.py",
        "backoffice/tests/test_back_office.py",
        "booking/tests/test_waitlist.py",
        "booking/tests/test_waitlist_review.py",
    ],
    "outbox.dispatch": [
        "outbox/tests/test_dispatch.py",
        "outbox/tests/test_fallback.py",
        "outbox/tests/test_faults.py",
        "outbox/tests/test_providers.py",
        "confirmations/tests/test_sms_keywords.py",
        "outbox/tests/test_webhooks.py",
        "backoffice/tests/test_staff_under_faults.py",
        "booking/tests/test_online.py",
        "booking/tests/test_waitlist.py",
    ],
    "confirmations.composing": [
        "outbox/tests/test_dispatch.py",
        "outbox/tests/test_fallback.py",
        "outbox/tests/test_webhooks.py",
        "confirmations/tests/test_sms_keywords.py",
        "confirmations/tests/test_replies_to_handle.py",
    ],
    "confirmations.replies": [
        "outbox/tests/test_webhooks.py",
        "confirmations/tests/test_sms_keywords.py",
        "booking/tests/test_waitlist.py",
        "booking/tests/test_waitlist_review.py",
    ],
    "confirmations.keywords": ["confirmations/tests/test_sms_keywords.py"],
    "outbox.states": [
        "outbox/tests/test_states.py",
        "outbox/tests/test_dispatch.py",
        "outbox/tests/test_webhooks.py",
        "outbox/tests/test_concurrency.py",
    ],
    "outbox.contacts": ["outbox/tests/test_dispatch.py", "outbox/tests/test_webhooks.py"],
    "confirmations.patient_pages": [
        "confirmations/tests/test_patient_pages.py",
        "confirmations/tests/test_rate_limit_faults.py",
        "booking/tests/test_pages.py",
    ],
    "confirmations.links": ["confirmations/tests/test_patient_pages.py", "confirmations/tests/test_content.py"],
    "booking.waitlist": ["booking/tests/test_waitlist.py", "booking/tests/test_waitlist_review.py"],
    "booking.offers": ["booking/tests/test_waitlist.py"],
    "booking.offer_replies": ["booking/tests/test_waitlist.py", "booking/tests/test_waitlist_review.py"],
    "booking.online": ["booking/tests/test_online.py", "booking/tests/test_pages.py", "booking/tests/test_waitlist.py"],
    "booking.composing": ["booking/tests/test_online.py", "booking/tests/test_waitlist.py"],
    "booking.codes": ["booking/tests/test_online.py", "booking/tests/test_pages.py"],
    "booking.rules": ["booking/tests/test_rules.py", "booking/tests/test_online.py"],
}


def short_names() -> dict[str, str]:
    """Each module's name for `--only`: its last part (`waitlist`), or its
    full name when a module listed before has that last part
    (`booking.rules`, beside `rules`)."""
    names = {}
    for module in MODULES:
        last = module.rsplit(".", 1)[1]
        names[module] = module if last in names.values() else last
    return names


def chosen(only: str) -> list[str] | None:
    """The modules `--only` names (short or full names), in MODULES' order;
    None when one of them is unknown."""
    wanted = {name.strip() for name in only.split(",") if name.strip()}
    modules = [module for module, short in short_names().items() if short in wanted or module in wanted]
    known = {*short_names().values(), *MODULES}
    return modules if wanted <= known else None


SWAPS = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In,
    ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}  # fmt: skip


class Name(NamedTuple):
    """A mutant as the equivalent list names it: by its code, which lines
    added above leave as it is."""

    module: str
    function: str  # qualified, dotted (`Dispatcher.deliver`); <module> outside any function or class
    code: str  # the changed line as written, stripped, without its comment
    what: str  # the change: `Lt → LtE`
    nth: int = 0  # 1, 2… when the function has that change of that line more than once; else 0


@dataclass(frozen=True)
class Mutant:
    module: str
    index: int
    line: int
    what: str
    last_line: int = 0  # where the changed code ends (it may span lines)
    function: str = "<module>"
    code: str = ""
    nth: int = 0

    @property
    def key(self) -> Name:
        return Name(self.module, self.function, self.code, self.what, self.nth)

    def entry(self) -> str:
        """Its entry in the equivalent list, but for the `why:` line."""
        nth = f"  ({self.nth}{ORDINALS.get(self.nth, 'th')})" if self.nth else ""
        return f"{self.module}:{self.function}  {self.what}{nth}\n    {self.code}"


ORDINALS = {1: "st", 2: "nd", 3: "rd"}


def _docstring(node) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _points(tree: ast.AST) -> list[tuple[ast.AST, str, callable]]:
    """Every place a mutation applies: (node, description, how to mutate a copy of it)."""
    points = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in SWAPS:
                    swapped = SWAPS[type(op)]
                    points.append((node, f"{type(op).__name__} → {swapped.__name__}", _swap_op(i, swapped)))
        elif isinstance(node, ast.BoolOp):
            other = ast.Or if isinstance(node.op, ast.And) else ast.And
            points.append((node, f"{type(node.op).__name__} → {other.__name__}", _set("op", other())))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            points.append((node, "not dropped", "unwrap"))
        elif isinstance(node, ast.Constant) and type(node.value) is bool:
            points.append((node, f"{node.value} → {not node.value}", _set("value", not node.value)))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            points.append((node, f"{node.value} → {node.value + 1}", _set("value", node.value + 1)))
            points.append((node, f"{node.value} → {node.value - 1}", _set("value", node.value - 1)))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
            other = ast.Sub if isinstance(node.op, ast.Add) else ast.Add
            points.append((node, f"{type(node.op).__name__} → {other.__name__}", _set("op", other())))
        elif isinstance(node, ast.Return) and node.value is not None:
            if not (isinstance(node.value, ast.Constant) and node.value.value is None):
                points.append((node, "returns None", _set("value", ast.Constant(None))))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and not _docstring(node):
            points.append((node, "call deleted", "delete"))
    return points


def _swap_op(i, op_class):
    def mutate(node):
        node.ops[i] = op_class()

    return mutate


def _set(attribute, value):
    def mutate(node):
        setattr(node, attribute, value)

    return mutate


def source_of(module: str) -> str:
    return file_of(module).read_text()


def mutants_of(module: str, source: str | None = None) -> list[Mutant]:
    """The module's mutants (of `source` instead of its file, when given)."""
    source = source_of(module) if source is None else source
    tree = ast.parse(source)
    points, functions, lines = _points(tree), _functions(tree), _code_lines(source)
    found = [
        Mutant(module, index, node.lineno, what, node.end_lineno, functions[node], lines[node.lineno - 1])
        for index, (node, what, _how) in enumerate(points)
    ]
    # The same change of the same line more than once in one function
    # (`wait=True, cancel_futures=True`): numbered, in reading order.
    repeated, seen = Counter(mutant.key for mutant in found), Counter()
    for index in sorted(range(len(points)), key=lambda index: (points[index][0].lineno, points[index][0].col_offset)):
        if repeated[found[index].key] > 1:
            seen[found[index].key] += 1
            found[index] = replace(found[index], nth=seen[found[index].key])
    return found


def _functions(tree: ast.Module) -> dict[ast.AST, str]:
    """Each node's function or class, by its qualified name (a decorator's
    or a default's too: they read as part of it)."""
    found = {}

    def visit(node: ast.AST, name: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = node.name if name == "<module>" else f"{name}.{node.name}"
        found[node] = name
        for child in ast.iter_child_nodes(node):
            visit(child, name)

    visit(tree, "<module>")
    return found


def _code_lines(source: str) -> list[str]:
    """Each line of the source, stripped and without its comment."""
    lines = source.splitlines()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            row, column = token.start
            lines[row - 1] = lines[row - 1][:column]
    return [line.strip() for line in lines]


def file_of(module: str) -> Path:
    return ROOT / (module.replace(".", "/") + ".py")


def mutated_tree(module: str, index: int) -> ast.AST:
    tree = ast.parse(source_of(module))
    node, _what, how = _points(tree)[index]
    if how == "unwrap":
        _replace(tree, node, node.operand)
    elif how == "delete":
        _replace(tree, node, ast.Pass())
    else:
        how(node)
    return ast.fix_missing_locations(tree)


def _replace(tree, old, new) -> None:
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, copy.copy(new) if new is not old else new)
                ast.copy_location(getattr(parent, field), old)
                return
            if isinstance(value, list) and old in value:
                value[value.index(old)] = ast.copy_location(new, old)
                return


# --- In the test process: `-p devtools.mutants` with HUB_MUTANT set -----------


class _MutantLoader(importlib.abc.Loader):
    def __init__(self, module: str, index: int):
        self.module, self.index = module, index

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        code = compile(mutated_tree(self.module, self.index), module.__spec__.origin, "exec")
        exec(code, module.__dict__)


class _MutantFinder(importlib.abc.MetaPathFinder):
    def __init__(self, module: str, index: int):
        self.module, self.index = module, index

    def find_spec(self, fullname, path, target=None):
        if fullname != self.module:
            return None
        origin = str(ROOT / (fullname.replace(".", "/") + ".py"))
        return importlib.util.spec_from_file_location(fullname, origin, loader=_MutantLoader(self.module, self.index))


if os.environ.get("HUB_MUTANT"):
    _wanted = json.loads(os.environ["HUB_MUTANT"])
    sys.meta_path.insert(0, _MutantFinder(_wanted["module"], _wanted["index"]))


# --- Which tests run which lines --------------------------------------------
# HUB_MUTANT_COVERAGE={"module": ..., "data": file}: the test process records,
# per test, the module's lines it runs. HUB_MUTANT_TESTS=file (one test id a
# line): the test process runs only those tests.

_coverage = None
if os.environ.get("HUB_MUTANT_COVERAGE"):
    import coverage

    _measured = json.loads(os.environ["HUB_MUTANT_COVERAGE"])
    # Started before the module is imported: what runs at import is recorded
    # outside any test (context ""), and means "every test".
    _coverage = coverage.Coverage(data_file=_measured["data"], include=[str(file_of(_measured["module"]))])
    _coverage.start()


def pytest_runtest_setup(item):
    if _coverage is not None:
        _coverage.switch_context(item.nodeid)


def pytest_runtest_logfinish(nodeid, location):
    if _coverage is not None:
        _coverage.switch_context("")


def pytest_sessionfinish(session, exitstatus):
    if _coverage is not None:
        _coverage.stop()
        _coverage.save()


def pytest_collection_modifyitems(session, config, items):
    if os.environ.get("HUB_MUTANT_TESTS"):
        wanted = set(Path(os.environ["HUB_MUTANT_TESTS"]).read_text().splitlines())
        kept = [item for item in items if item.nodeid in wanted]
        config.hook.pytest_deselected(items=[item for item in items if item.nodeid not in wanted])
        items[:] = kept


def tests_by_line(module: str, data_file: str) -> dict[int, set[str]]:
    """From a run under HUB_MUTANT_COVERAGE: each line of the module and the
    tests that ran it ("" for a line run outside any test: at import)."""
    import coverage

    data = coverage.CoverageData(data_file)
    data.read()
    by_line = data.contexts_by_lineno(str(file_of(module)))
    return {line: set(contexts) for line, contexts in by_line.items()}


def tests_for(mutant: Mutant, by_line: dict[int, set[str]]) -> set[str] | None:
    """The tests that run the mutant's lines, or None for "all of them": a
    line run at import (a constant, a default), or one no test runs."""
    found = set().union(*(by_line.get(line, set()) for line in range(mutant.line, mutant.last_line + 1)))
    if not found or "" in found:
        return None
    return found


def test_environment(environ, postgres: str | None, job: int) -> dict:
    """The environment of one job's test runs: SQLite by default; with
    `postgres`, a database of its own per job (pytest-django creates
    test_<name>), so that jobs running at once never share one."""
    # Nor a mutant, a selection or coverage asked for by the caller's own
    # environment; and the tests run on the Hub's settings, not devtools'.
    ignored = ("DATABASE_URL", "HUB_REQUIRE", "HUB_MUTANT", "COVERAGE_PROCESS_START", "DJANGO_SETTINGS_MODULE")
    env = {key: value for key, value in environ.items() if not key.startswith(ignored)}
    if postgres:
        base, _slash, name = postgres.rstrip("/").rpartition("/")
        env["DATABASE_URL"] = f"{base}/{name or 'hub'}_mutants_{job}"
    return env


# An entry's first line: `module:function  change`, and `(2nd)` when numbered.
ENTRY = re.compile(r"(?P<module>[\w.]+):(?P<function>\S+)\s+(?P<what>.+?)(?:\s+\((?P<nth>\d+)(?:st|nd|rd|th)\))?")


def equivalent() -> set[Name]:
    """Survivors that cannot change behaviour, from EQUIVALENT: each entry
    is three lines, the second and third indented:

        confirmations.rules:call_time  Lt → LtE
            day = local.date() if local.time() < CALLS_FROM else local.date() + timedelta(days=1)
            why: at exactly 09:00 the first branch has already returned
    """
    if not EQUIVALENT.exists():
        return set()
    lines = [line for line in EQUIVALENT.read_text().splitlines() if line.strip() and not line.startswith("#")]
    names = set()
    for start in range(0, len(lines), 3):
        header, code, why = [*lines[start : start + 3], "", ""][:3]
        named = ENTRY.fullmatch(header)
        if not (named and code.startswith(" ") and why.strip().startswith("why: ")):
            raise ValueError(f"{EQUIVALENT.name}: not `module:function  change`, its line, `why: …`: {header!r}")
        names.add(Name(named["module"], named["function"], code.strip(), named["what"], int(named["nth"] or 0)))
    return names

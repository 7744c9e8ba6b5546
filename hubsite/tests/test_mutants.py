"""The mutation tool itself (hubsite/mutants.py): each mutant is one real
change that still compiles, and the equivalent list is read as written."""

import ast

from hubsite import mutants


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


def test_the_equivalent_list_reads_keys_and_ignores_reasons(tmp_path, monkeypatch):
    listed = tmp_path / "equivalent.txt"
    listed.write_text("# header\nconfirmations.rules:10:Lt → LtE  # same at the boundary, by R11\n\n")
    monkeypatch.setattr(mutants, "EQUIVALENT", listed)
    assert mutants.equivalent() == {"confirmations.rules:10:Lt → LtE"}


def test_each_job_on_postgresql_has_a_database_of_its_own_and_sqlite_is_the_default():
    environ = {"PATH": "/bin", "DATABASE_URL": "postgres://x@h/ci", "HUB_REQUIRE_POSTGRES": "1"}
    assert mutants.test_environment(environ, None, 0) == {"PATH": "/bin"}
    assert [mutants.test_environment(environ, "postgres://postgres@127.0.0.1:5432/hub", job) for job in (0, 1)] == [
        {"PATH": "/bin", "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/hub_mutants_0"},
        {"PATH": "/bin", "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/hub_mutants_1"},
    ]


def test_every_listed_equivalent_is_a_mutant_of_the_code_as_it_is():
    """A line moved by an edit would leave a stale entry that excuses nothing
    (or, worse, a new mutant): the list must follow the code."""
    made = {mutant.key for module in mutants.MODULES for mutant in mutants.mutants_of(module)}
    assert sorted(mutants.equivalent() - made) == []

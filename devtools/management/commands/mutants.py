"""`./hub mutants`: mutation testing of the core modules (devtools/mutants.py).

Prints, per module, how many mutants were made, how many the tests killed,
how many survived (left out: those listed as equivalent), the score, and
each survivor, named as the equivalent list names it; exits 1 when a module
scores under --min.
"""

import json
import os
import queue
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from django.core.management.base import BaseCommand, CommandError

from devtools import mutants


class Command(BaseCommand):
    help = "Mutation testing of the core modules: mutants, killed, survived, and the survivors."

    def add_arguments(self, parser):
        short = ",".join(mutants.short_names().values())
        parser.add_argument("--only", default=short, help=f"modules, of: {short}")
        parser.add_argument("--jobs", type=int, default=2, help="test processes at once")
        parser.add_argument("--min", type=float, default=0.0, help="fail under this score (percent)")
        parser.add_argument("--timeout", type=int, default=300, help="seconds a mutant's tests may take")
        parser.add_argument(
            "--postgres",
            metavar="URL",
            help="run the tests on PostgreSQL (and its tests that SQLite skips), one database per job",
        )

    def handle(self, *args, only, jobs, min, timeout, postgres, **options):
        modules = mutants.chosen(only)
        if modules is None:
            raise CommandError(f"unknown module in --only: {only}")
        equivalent = mutants.equivalent()
        # Each job at once gets its own environment (its own database, with --postgres).
        self.environments = queue.Queue()
        for job in range(max(1, jobs)):
            self.environments.put(mutants.test_environment(os.environ, postgres, job))
        rows, below = [], []
        for module in modules:
            tests = mutants.MODULES[module]
            started = time.monotonic()
            self.stderr.write(f"{module}: its tests under coverage…")
            by_line = self.measure(module, tests, timeout)
            found = mutants.mutants_of(module)
            self.stderr.write(f"{module}: {len(found)} mutants…")
            with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
                killed = list(pool.map(partial(self.killed, module, tests, by_line, timeout), found))
            survivors = [m for m, dead in zip(found, killed, strict=True) if not dead and m.key not in equivalent]
            counted = len(found) - sum(1 for m in found if m.key in equivalent)
            score = 100.0 * (counted - len(survivors)) / counted if counted else 100.0
            rows.append((module, len(found), counted - len(survivors), len(survivors), score, survivors))
            self.stderr.write(f"{module}: {score:.1f}% in {(time.monotonic() - started) / 60:.0f} min")
            if score < min:
                below.append(module)
        self.stdout.write(f"{'module':<32} {'mutants':>8} {'killed':>8} {'survived':>9} {'score':>7}")
        for module, made, dead, alive, score, _survivors in rows:
            self.stdout.write(f"{module:<32} {made:>8} {dead:>8} {alive:>9} {score:>6.1f}%")
        for *_figures, survivors in rows:
            for mutant in survivors:
                where = mutants.file_of(mutant.module).relative_to(mutants.ROOT)
                self.stdout.write(f"\nsurvived, at {where}:{mutant.line}:")
                self.stdout.write(mutant.entry())
        if below:
            self.stderr.write(f"under {min:.1f}%: {', '.join(below)}")
            sys.exit(1)

    def measure(self, module: str, tests: list[str], timeout: int) -> dict[int, set[str]]:
        """Runs the module's tests without any mutant: as they are, within the
        timeout (else every mutant would look killed by it), then under
        coverage, to learn which test runs which line."""
        if self.run(module, None, tests, timeout) != 0:
            raise CommandError(f"the tests of {module} fail (or outlast --timeout) without any mutant: fix them first")
        with tempfile.TemporaryDirectory() as folder:
            data = os.path.join(folder, "coverage")
            measuring = {"HUB_MUTANT_COVERAGE": json.dumps({"module": module, "data": data})}
            if self.run(module, None, tests, 4 * timeout, measuring) != 0:
                raise CommandError(f"the tests of {module} fail without any mutant: fix them first")
            return mutants.tests_by_line(module, data)

    def killed(self, module: str, tests: list[str], by_line, timeout: int, mutant: mutants.Mutant) -> bool:
        selected = mutants.tests_for(mutant, by_line)
        if selected is not None:
            with tempfile.NamedTemporaryFile("w", suffix=".txt") as chosen:
                chosen.write("\n".join(sorted(selected)))
                chosen.flush()
                outcome = self.run(module, mutant.index, tests, timeout, {"HUB_MUTANT_TESTS": chosen.name})
            if outcome in (1, 2, None):  # a test failed, collection failed (an import), or they hung
                return True
        # It passed the tests that run its lines (or they could not be
        # picked out): it is a survivor only if it passes all of them.
        return self.run(module, mutant.index, tests, timeout) != 0

    def run(self, module: str, index: int | None, tests: list[str], timeout: int, extra: dict | None = None):
        """pytest's exit code on the tests (with the mutant `index`, or
        none), or None when they hang."""
        base = self.environments.get()
        try:
            env = {**base, **(extra or {})}
            if index is not None:
                env["HUB_MUTANT"] = json.dumps({"module": module, "index": index})
            command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "devtools.mutants"]
            try:
                done = subprocess.run(
                    [*command, *tests], env=env, cwd=mutants.ROOT, capture_output=True, timeout=timeout, check=False
                )
            except subprocess.TimeoutExpired:
                return None  # a mutant that makes the tests hang is noticed
            return done.returncode
        finally:
            self.environments.put(base)

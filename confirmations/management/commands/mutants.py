"""`./hub mutants`: mutation testing of the core modules (hubsite/mutants.py).

Prints, per module, how many mutants were made, how many the tests killed,
how many survived (left out: those listed as equivalent), the score, and
each survivor; exits 1 when a module scores under --min.
"""

import json
import os
import queue
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from django.core.management.base import BaseCommand, CommandError

from hubsite import mutants


class Command(BaseCommand):
    help = "Mutation testing of the core modules: mutants, killed, survived, and the survivors."

    def add_arguments(self, parser):
        short = ",".join(name.rsplit(".", 1)[1] for name in mutants.MODULES)
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
        wanted = [name.strip() for name in only.split(",") if name.strip()]
        modules = [module for module in mutants.MODULES if module.rsplit(".", 1)[1] in wanted]
        if len(modules) != len(wanted):
            raise CommandError(f"unknown module in --only: {only}")
        equivalent = mutants.equivalent()
        # Each job at once gets its own environment (its own database, with --postgres).
        self.environments = queue.Queue()
        for job in range(max(1, jobs)):
            self.environments.put(mutants.test_environment(os.environ, postgres, job))
        rows, below = [], []
        for module in modules:
            tests = mutants.MODULES[module]
            if not self.run(module, None, tests, timeout):
                raise CommandError(f"the tests of {module} fail without any mutant: fix them first")
            found = mutants.mutants_of(module)
            with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
                killed = list(pool.map(partial(self.killed, module, tests, timeout), found))
            survivors = [m for m, dead in zip(found, killed, strict=True) if not dead and m.key not in equivalent]
            counted = len(found) - sum(1 for m in found if m.key in equivalent)
            score = 100.0 * (counted - len(survivors)) / counted if counted else 100.0
            rows.append((module, len(found), counted - len(survivors), len(survivors), score, survivors))
            if score < min:
                below.append(module)
        self.stdout.write(f"{'module':<32} {'mutants':>8} {'killed':>8} {'survived':>9} {'score':>7}")
        for module, made, dead, alive, score, _survivors in rows:
            self.stdout.write(f"{module:<32} {made:>8} {dead:>8} {alive:>9} {score:>6.1f}%")
        for *_figures, survivors in rows:
            for mutant in survivors:
                self.stdout.write(f"survived  {mutant.key}")
        if below:
            self.stderr.write(f"under {min:.1f}%: {', '.join(below)}")
            sys.exit(1)

    def killed(self, module: str, tests: list[str], timeout: int, mutant: mutants.Mutant) -> bool:
        return not self.run(module, mutant.index, tests, timeout)

    def run(self, module: str, index: int | None, tests: list[str], timeout: int) -> bool:
        """True when the tests pass (with the mutant `index`, or none)."""
        env = dict(self.environments.get())
        try:
            if index is not None:
                env["HUB_MUTANT"] = json.dumps({"module": module, "index": index})
            command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "hubsite.mutants"]
            try:
                done = subprocess.run(
                    [*command, *tests], env=env, cwd=mutants.ROOT, capture_output=True, timeout=timeout, check=False
                )
            except subprocess.TimeoutExpired:
                return False  # a mutant that makes the tests hang is noticed
            return done.returncode == 0
        finally:
            self.environments.put({key: value for key, value in env.items() if key != "HUB_MUTANT"})

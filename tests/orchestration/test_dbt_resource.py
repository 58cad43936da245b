"""The job's dbt resource skips what dagster-dbt does before each `dbt build` that the job
never uses: a `dbt --version` start-up and an in-process dbt adapter. The names it
replaces are private to dagster-dbt, so a test holds them to the pinned version's code."""

from __future__ import annotations

import functools
import importlib.metadata
import inspect
import stat

import pytest
from dagster_dbt import DbtCliResource
from dagster_dbt.core import resource as dagster_dbt_resource

from modelling.dbt import dbt_executable
from orchestration.resources import RESOURCES, DbtResource, dbt_project


def _no_dbt_started(*args, **kwargs):
    raise AssertionError(f"dbt was started: {args}")


def test_the_environment_s_own_dbt_is_not_started_for_its_version(monkeypatch):
    monkeypatch.setattr(dagster_dbt_resource, "check_output", _no_dbt_started)
    resource = DbtResource(project_dir=dbt_project, dbt_executable=dbt_executable())
    assert str(resource._cli_version) == importlib.metadata.version("dbt-core")
    assert resource._initialize_dbt_core_adapter(["build"]) is None
    assert isinstance(RESOURCES["dbt"], DbtResource)


def test_another_dbt_executable_is_asked_its_version(tmp_path, monkeypatch):
    other = tmp_path / "dbt"
    other.write_text("#!/bin/sh\necho 'Core:'\necho '  - installed: 1.9.4'\n")
    other.chmod(other.stat().st_mode | stat.S_IXUSR)
    asked: list[list[str]] = []

    def check_output(cmd, *args, **kwargs):
        asked.append(cmd)
        return b"Core:\n  - installed: 1.9.4\n"

    monkeypatch.setattr(dagster_dbt_resource, "check_output", check_output)
    resource = DbtResource(project_dir=dbt_project, dbt_executable=str(other))
    assert str(resource._cli_version) == "1.9.4"
    assert asked == [[str(other), "--version"]]


@pytest.mark.parametrize("name", ["_cli_version", "_initialize_dbt_core_adapter"])
def test_what_is_replaced_is_what_dagster_dbt_calls_before_a_build(name):
    # a dagster-dbt upgrade that renames or stops calling these makes the override dead
    # code: this fails then, rather than the job silently paying the cost again
    assert name in inspect.getsource(DbtCliResource.cli)
    replaced = inspect.getattr_static(DbtCliResource, name)
    if name == "_cli_version":
        assert isinstance(replaced, functools.cached_property)
    else:
        assert list(inspect.signature(replaced).parameters) == ["self", "args"]

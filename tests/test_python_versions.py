"""Python 3.11, 3.12 and 3.13 are supported: every dependency has a wheel for each, and Sleuth's code runs on each.

The wheel checks ask PyPI (pip's dry run, for Linux x86-64 and a given Python version, wheels only), so they
need the network: where PyPI cannot be reached they are skipped, except on CI (``CI=true``), where they fail.
The code checks run the interpreters themselves (``python3.12``, ``python3.13``, or pyenv's), which CI has.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import sleuth_network_guard
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from tests.test_check_system import check as check_system

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SUPPORTED = ("3.11", "3.12", "3.13")
NEWER = ("3.12", "3.13")  # the tests themselves run on 3.11
#: Linux x86-64 with glibc 2.28 (what the pinned torch wheel needs): pip takes each tag literally, so every older
#: manylinux tag is named too.
PLATFORMS = [f"manylinux_2_{minor}_x86_64" for minor in range(28, 4, -1)] + [
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
]
#: Test-only packages published as source alone (pure Python, so they install on any version); never a runtime one.
SDIST_ONLY = {"odfpy"}
_UNREACHABLE = re.compile(
    r"NameResolutionError|Failed to establish a new connection|Temporary failure in name resolution|"
    r"Network is unreachable|Max retries exceeded|ConnectTimeout|ReadTimeout|No route to host"
)
ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _skip_or_fail(reason: str) -> None:
    if ON_CI:
        pytest.fail(f"{reason} (CI=true: this check must run)")
    pytest.skip(reason)


def _torch_pin() -> str:
    match = re.search(r"install torch==(\S+)", (ROOT / "Makefile").read_text(encoding="utf-8"))
    assert match, "the Makefile installs a pinned torch"
    return match.group(1)


def _requirements() -> list[Requirement]:
    """What ``make install`` installs: the pinned torch, the dependencies and the dev extra (sdist-only ones aside)."""
    project = PYPROJECT["project"]
    declared = [Requirement(text) for text in [*project["dependencies"], *project["optional-dependencies"]["dev"]]]
    wanted = [r for r in declared if r.name != "torch" and canonicalize_name(r.name) not in SDIST_ONLY]
    return [Requirement(f"torch=={_torch_pin()}"), *wanted]


def _pip_dry_run(version: str, requirements: list[str], tmp_path: Path, *options: str) -> dict[str, object]:
    """pip's report of what it would install for CPython ``version`` on Linux x86-64, wheels only."""
    report = tmp_path / f"report-{version}.json"
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet"]
    command += ["--disable-pip-version-check", "--retries", "1", "--timeout", "30"]
    command += ["--only-binary=:all:", "--python-version", version, "--implementation", "cp"]
    command += [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    command += ["--target", str(tmp_path / "target"), "--report", str(report), *options, *requirements]
    env = os.environ | {sleuth_network_guard.INSTALLER_VARIABLE: "1"}  # pip may reach the registry
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    unreachable = _UNREACHABLE.search(done.stderr) if done.returncode != 0 else None
    if unreachable and "--index-url" in options:
        # PyTorch's own index is not a package registry CI machines are promised to reach: a skip, even there.
        pytest.skip(f"{options[options.index('--index-url') + 1]} cannot be reached ({unreachable.group(0)})")
    if unreachable:
        _skip_or_fail(f"PyPI cannot be reached ({unreachable.group(0)})")
    assert done.returncode == 0, f"pip cannot install everything from wheels on Python {version}:\n{done.stderr}"
    result: dict[str, object] = json.loads(report.read_text(encoding="utf-8"))
    return result


def interpreter(version: str) -> str:
    """A working ``python<version>``: on PATH, or pyenv's."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path("~/.pyenv").expanduser()))
    candidates = [shutil.which(f"python{version}"), *map(str, sorted(pyenv.glob(f"versions/{version}.*/bin/python3")))]
    for candidate in filter(None, candidates):
        probe = [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
        if subprocess.run(probe, capture_output=True, text=True, check=False).stdout.strip() == version:
            return candidate
    _skip_or_fail(f"no Python {version} interpreter here")
    raise AssertionError("unreachable")


def test_the_supported_versions_are_declared_and_the_linters_check_the_oldest() -> None:
    allowed = SpecifierSet(PYPROJECT["project"]["requires-python"])
    assert [v for v in ("3.10", *SUPPORTED, "3.14") if allowed.contains(f"{v}.0")] == list(SUPPORTED)
    classifiers = {c.rsplit(" :: ", 1)[1] for c in PYPROJECT["project"]["classifiers"] if "Python :: 3." in c}
    assert classifiers == set(SUPPORTED)
    # ruff and mypy check against the oldest: nothing newer than 3.11 gets in unnoticed.
    assert PYPROJECT["tool"]["ruff"]["target-version"] == "py311"
    assert PYPROJECT["tool"]["mypy"]["python_version"] == "3.11"
    assert sys.version_info[:2] >= (3, 11)


def test_source_only_packages_are_test_tools_not_runtime_dependencies() -> None:
    runtime = {canonicalize_name(Requirement(r).name) for r in PYPROJECT["project"]["dependencies"]}
    dev = {canonicalize_name(Requirement(r).name) for r in PYPROJECT["project"]["optional-dependencies"]["dev"]}
    assert dev >= SDIST_ONLY and not SDIST_ONLY & runtime


@pytest.mark.slow
@pytest.mark.parametrize("version", NEWER)
def test_every_dependency_installs_from_a_wheel(version: str, tmp_path: Path) -> None:
    wanted = _requirements()
    report = _pip_dry_run(version, [str(r) for r in wanted], tmp_path)
    installs = report["install"]
    assert isinstance(installs, list)
    chosen = {canonicalize_name(item["metadata"]["name"]): item for item in installs}
    for requirement in wanted:
        item = chosen.get(canonicalize_name(requirement.name))
        assert item is not None, f"{requirement} is not in pip's plan for Python {version}"
        assert requirement.specifier.contains(item["metadata"]["version"], prereleases=True)
    for name, item in chosen.items():
        url = item["download_info"]["url"]
        assert url.endswith(".whl"), f"{name} for Python {version} would be built from source: {url}"
        tag = url.rsplit("/", 1)[1].split("-")[-3]  # name-version(-build)-python-abi-platform.whl
        assert any(t in tag for t in (f"cp{version.replace('.', '')}", "py3", "cp3", "abi3")), (name, url)
    assert chosen["torch"]["metadata"]["version"] == _torch_pin()


@pytest.mark.slow
@pytest.mark.parametrize("version", NEWER)
def test_pytorchs_cpu_build_has_the_pinned_torch(version: str, tmp_path: Path) -> None:
    """``make`` takes torch from PyTorch's CPU index on a machine without an NVIDIA GPU."""
    report = _pip_dry_run(
        version,
        [f"torch=={_torch_pin()}"],
        tmp_path,
        "--no-deps",
        "--index-url",
        "https://download.pytorch.org/whl/cpu",
    )
    (item,) = report["install"]  # type: ignore[misc]
    assert item["download_info"]["url"].endswith(".whl")
    assert item["metadata"]["version"].startswith(_torch_pin())


@pytest.mark.parametrize("version", NEWER)
def test_the_code_compiles_without_warnings(version: str, tmp_path: Path) -> None:
    """Every module, test and script byte-compiles, with warnings as errors (3.12 warns of invalid escapes)."""
    python = interpreter(version)
    env = os.environ | {"PYTHONPYCACHEPREFIX": str(tmp_path / "pycache")}  # nothing written into the checkout
    done = subprocess.run(
        [python, "-W", "error", "-m", "compileall", "-q", "core", "app", "scripts", "benchmarks", "tests"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert any((tmp_path / "pycache").rglob(f"*.cpython-{version.replace('.', '')}.pyc"))


@pytest.mark.parametrize("version", NEWER)
def test_no_module_of_the_standard_library_that_a_newer_python_removed_is_imported(version: str) -> None:
    python = interpreter(version)
    names = subprocess.run(
        [python, "-c", "import json, sys; print(json.dumps(sorted(sys.stdlib_module_names)))"],
        capture_output=True,
        text=True,
        check=True,
    )
    removed = set(sys.stdlib_module_names) - set(json.loads(names.stdout))
    assert "distutils" in removed or version < "3.12"  # the comparison sees real removals
    imported: dict[str, str] = {}
    folders = ("core", "app", "scripts", "benchmarks", "tests")
    for path in [p for folder in folders for p in (ROOT / folder).rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update({alias.name.split(".")[0]: str(path) for alias in node.names})
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported[node.module.split(".")[0]] = str(path)
    assert {name: where for name, where in imported.items() if name in removed} == {}


@pytest.mark.parametrize("version", NEWER)
def test_the_set_up_scripts_run_on_the_newer_pythons(
    version: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``make`` runs these with the chosen Python: torch-args before the environment exists, the models' build after.

    torch-args takes a local torch wheel only when it is built for the Python that runs it.
    """
    python = interpreter(version)
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    tag = f"cp{version.replace('.', '')}"
    served = check_system.local_torch_wheel(check_system._pip_find_links(), tag) is not None  # pip's config's own

    def torch_args() -> str:
        done = subprocess.run(
            [python, "scripts/check_system.py", "torch-args", "cpu"], cwd=ROOT, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    cpu_index = "--index-url https://download.pytorch.org/whl/cpu"
    assert torch_args() == ("" if served else cpu_index)
    (tmp_path / f"torch-{_torch_pin()}+cpu-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"")
    assert torch_args() == ("" if served else cpu_index), "another Python's wheel is not this one's"
    (tmp_path / f"torch-{_torch_pin()}+cpu-{tag}-{tag}-manylinux_2_28_x86_64.whl").write_bytes(b"")
    assert torch_args() == ""
    helps = subprocess.run(
        [python, "scripts/build_models_wheel.py", "--help"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert helps.returncode == 0 and "--out" in helps.stdout

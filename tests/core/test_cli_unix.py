"""``sleuth`` as a Unix command, through the installed entry point: exit statuses, a closed pipe, quiet
stderr, unquoted words, --version, NO_COLOR and shell completion."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from core import __version__
from core.cli import _snippet, main
from tests.core.corpus import write_corpus

TIMEOUT = 300


def sleuth(*args: str) -> list[str]:
    """The installed ``sleuth`` console script, else the same entry point through Python."""
    script = Path(sys.executable).with_name("sleuth")
    return [str(script), *args] if script.is_file() else [sys.executable, "-m", "app.launch", *args]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, tiny_llama_dir: Path) -> dict[str, str]:
    """An indexed sample corpus in private folders (tiny model); the environment for a ``sleuth`` process."""
    root = tmp_path_factory.mktemp("sleuth-unix")
    env = {
        **os.environ,
        "SLEUTH_CONFIG_DIR": str(root / "config"),
        "SLEUTH_DB": str(root / "db"),
        "SLEUTH_DATA_DIR": str(root / "data"),
        "SLEUTH_CACHE_DIR": str(root / "cache"),
        "SLEUTH_STATE_DIR": str(root / "state"),
        "SLEUTH_RUNTIME_DIR": str(root / "run"),
        "OMP_NUM_THREADS": "2",
    }
    for setting in ("NO_COLOR", "PYTHONUNBUFFERED"):  # as a user has it: stdout buffered, colour allowed
        env.pop(setting, None)
    for args in (
        ("config", "set", "model", str(tiny_llama_dir)),
        ("config", "set", "chunk_size", "48"),
        ("config", "set", "reranker", ""),
        ("index", str(write_corpus(root / "docs")), "--no-progress"),
    ):
        done = run(args, env)
        assert done.returncode == 0, done.stderr
    return env


def run(args: Sequence[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(sleuth(*args), env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)


def test_exit_status_is_0_with_results_1_with_none_2_on_error(home: dict[str, str]) -> None:
    found = run(["search", "Vesuvius", "--mode", "bm25"], home)
    assert found.returncode == 0, found.stderr
    assert "volcano.txt" in found.stdout

    none = run(["search", "zzyzx", "--mode", "bm25"], home)
    assert none.returncode == 1, none.stderr
    assert none.stdout == "", "stdout carries results only"
    assert "No results." in none.stderr

    none_json = run(["search", "zzyzx", "--mode", "bm25", "--json"], home)
    assert none_json.returncode == 1 and json.loads(none_json.stdout)["results"] == []

    for args in (
        ["search", "anything"],  # an index that does not exist yet
        ["config", "get", "no_such_setting"],
        ["index", str(Path(home["SLEUTH_DB"]).parent / "no-such-folder")],
    ):
        env = {**home, "SLEUTH_DB": str(Path(home["SLEUTH_DB"]).parent / "empty-db")} if args[1] == "anything" else home
        failed = run(args, env)
        assert failed.returncode == 2, (args, failed.stderr)
        assert failed.stderr.startswith("sleuth: error:") and "Traceback" not in failed.stderr
        assert failed.stdout == ""

    usage = run(["search", "--mode", "fuzzy", "x"], home)
    assert usage.returncode == 2 and "invalid choice" in usage.stderr


def test_several_unquoted_words_are_one_query(home: dict[str, str]) -> None:
    quoted = run(["search", "Vesuvius buried Pompeii", "--mode", "bm25", "--json"], home)
    unquoted = run(["search", "Vesuvius", "buried", "Pompeii", "--mode", "bm25", "--json"], home)
    around = run(["search", "-k", "2", "Vesuvius", "buried", "--mode", "bm25", "Pompeii", "--json"], home)
    assert quoted.returncode == unquoted.returncode == around.returncode == 0, around.stderr
    first = json.loads(quoted.stdout)
    assert json.loads(unquoted.stdout)["results"] == first["results"]
    assert [r["path"] for r in json.loads(around.stdout)["documents"]] == [d["path"] for d in first["documents"][:2]]
    bad = run(["search", "Vesuvius", "--no-such-option"], home)
    assert bad.returncode == 2 and "unrecognized arguments: --no-such-option" in bad.stderr
    excluded = run(["search", "Vesuvius", "-Pompeii"], home)  # an unquoted -word would be read as an option
    assert excluded.returncode == 2 and "sleuth search -- Vesuvius -Pompeii" in excluded.stderr
    after_dashes = run(["search", "--mode", "bm25", "--", "Vesuvius", "-Pompeii"], home)
    assert after_dashes.returncode == 1, after_dashes.stderr  # the one file that names Vesuvius names Pompeii


def test_a_closed_pipe_ends_the_command_quietly(home: dict[str, str]) -> None:
    for args in (["search", "Vesuvius", "--mode", "bm25", "--json"], ["status"], ["config", "list"], ["--help"]):
        # The reader reads one line, then goes away, as `| head -1` does.
        with subprocess.Popen(
            sleuth(*args), env=home, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as process:
            assert process.stdout is not None and process.stderr is not None
            assert process.stdout.readline()
            process.stdout.close()
            err = process.stderr.read()
            assert process.wait(timeout=TIMEOUT) == 0, err
        assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err
        # A reader that has gone before anything is written: every write fails.
        with subprocess.Popen(
            sleuth(*args), env=home, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as process:
            assert process.stdout is not None and process.stderr is not None
            process.stdout.close()
            err = process.stderr.read()
            assert process.wait(timeout=TIMEOUT) == 0, err
        assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err


def test_a_search_that_loads_the_model_shows_no_library_bars(home: dict[str, str]) -> None:
    env = {**home, "SLEUTH_PROGRESS": "1"}  # as on a terminal: bars would be drawn if anything asked for them
    done = run(["search", "Vesuvius", "buried", "--mode", "hybrid", "--no-rerank"], env)
    assert done.returncode == 0, done.stderr
    assert "No Sleuth is running" in done.stderr  # the one line that says why this search is slow
    assert "Loading" not in done.stderr and "%|" not in done.stderr and "it/s" not in done.stderr, done.stderr
    assert "Warning" not in done.stderr and "Traceback" not in done.stderr
    shown = run(["search", "Vesuvius", "buried", "--mode", "hybrid", "--no-rerank", "--verbose"], env)
    assert "Loading weights" in shown.stderr, "--verbose shows them: the library does draw them"


def test_watch_writes_the_log_file(home: dict[str, str]) -> None:
    log = Path(home["SLEUTH_STATE_DIR"]) / "sleuth.log"
    with subprocess.Popen(
        sleuth("watch", "--full-speed"), env=home, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as watch:
        assert watch.stderr is not None
        seen = ""
        while "Checking your folders" not in seen and watch.poll() is None:  # its Ctrl+C handling is in place
            seen += watch.stderr.readline()
        watch.send_signal(signal.SIGTERM)  # a service manager's stop
        _out, err = watch.communicate(timeout=TIMEOUT)
    assert watch.returncode == 0, seen + err
    text = log.read_text(encoding="utf-8")
    assert f"[{watch.pid}] sleuth.watch INFO: Checking your folders" in text
    assert "Stopped. Changes not applied yet are kept" in text


def test_version() -> None:
    done = subprocess.run(sleuth("--version"), capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert done.returncode == 0 and done.stdout == f"sleuth {__version__}\n"


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert "\033[" in _snippet("tomatoes want sun", [(0, 8)])
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\033[" not in _snippet("tomatoes want sun", [(0, 8)])
    monkeypatch.setenv("NO_COLOR", "")  # set but empty: no-color.org says colour stays on
    assert "\033[" in _snippet("tomatoes want sun", [(0, 8)])
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    monkeypatch.delenv("NO_COLOR")
    assert "\033[" not in _snippet("tomatoes want sun", [(0, 8)])


def test_completion_scripts_name_every_command_and_option(capsys: pytest.CaptureFixture[str]) -> None:
    from core.cli import _parser
    from core.completion import describe

    _top, commands = describe(_parser())
    search = next(c for c in commands if c.name == "search")
    assert {"-k", "--mode", "--sort", "--passages", "--json", "--no-rerank"} <= {
        f for o in search.options for f in o.flags
    }
    for shell in ("bash", "zsh", "fish"):
        assert main(["completion", shell]) == 0
        text = capsys.readouterr().out
        for command in commands:
            assert command.name in text
        for flag in ("--passages", "--quiet-seconds", "--no-progress", "--version"):
            assert flag.lstrip("-") in text
        assert "bm25 dense hybrid" in text
    assert run(["completion", "tcsh"], dict(os.environ)).returncode == 2


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completion_completes_commands_options_and_choices(tmp_path: Path) -> None:
    script = tmp_path / "sleuth.bash"
    script.write_text(run(["completion", "bash"], dict(os.environ)).stdout, encoding="utf-8")

    def complete(*words: str) -> list[str]:
        line = " ".join(f'"{w}"' for w in words)
        program = f'source "{script}"; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _sleuth; '
        program += 'printf "%s\\n" "${COMPREPLY[@]}"'
        done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=30, check=True)
        return done.stdout.split()

    assert complete("sleuth", "se") == ["search"]
    assert complete("sleuth", "--db", "/tmp/x", "search", "--pa") == ["--passages"]
    assert complete("sleuth", "search", "--mode", "") == ["bm25", "dense", "hybrid"]
    assert complete("sleuth", "config", "") == ["get", "set", "list"]
    assert complete("sleuth", "completion", "f") == ["fish"]
    assert complete("sleuth", "watch", "--f") == ["--full-speed"]


@pytest.mark.skipif(shutil.which("fish") is None, reason="needs fish")
def test_fish_completion_completes_commands_options_and_choices(tmp_path: Path) -> None:
    script = tmp_path / "sleuth.fish"
    script.write_text(run(["completion", "fish"], dict(os.environ)).stdout, encoding="utf-8")

    def complete(line: str) -> list[str]:
        program = f"source {script}; complete -C '{line}'"
        done = subprocess.run(["fish", "-c", program], capture_output=True, text=True, timeout=30, check=True)
        return [row.split("\t")[0] for row in done.stdout.splitlines()]

    assert complete("sleuth se") == ["search"]
    assert complete("sleuth search --mode ") == ["bm25", "dense", "hybrid"]
    assert complete("sleuth config ") == ["get", "list", "set"]
    assert complete("sleuth --d") == ["--db"]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="needs zsh")
def test_zsh_completion_is_a_valid_script(tmp_path: Path) -> None:
    script = tmp_path / "_sleuth"
    script.write_text(run(["completion", "zsh"], dict(os.environ)).stdout, encoding="utf-8")
    done = subprocess.run(["zsh", "-n", str(script)], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr

"""Nothing leaves the machine: Sleuth's real entry points, run as a user would, under ``strace``.

A fresh user (an empty home folder, no ``XDG_*`` folders, none of the telemetry switches set, not a CI
machine: ONNX Runtime keeps quiet on CI machines by itself, which is how its telemetry went unnoticed)
indexes a folder holding a scanned PDF page and a photographed page, so OCR runs in the PDF worker and
in the indexer; searches it; adapts a model to it; and opens the window, which answers a search over its
local socket. Every process is traced: a connection or datagram to anything but loopback fails the test,
and so does a telemetry identifier or event queue written anywhere under the home folder.

The suite's network guard (tests/network_guard) also runs inside each of these processes, for Python code;
strace sees native code too (ONNX Runtime's uploader is C++).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from core.privacy import TELEMETRY_OFF
from tests.core.test_ocr import picture, scanned_pdf

pytestmark = pytest.mark.slow

STRACE = shutil.which("strace")
#: What marks an environment as a test or CI run, to libraries that stay quiet there (ONNX Runtime does).
QUIET_WHERE_TESTED = ("CI", "GITHUB_ACTIONS", "TF_BUILD", "ORT_RUNNING_UNIT_TESTS")
#: Settings that would hide a model hub lookup.
OFFLINE = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
ADDRESS = re.compile(r'inet_(?:addr|pton)\((?:AF_INET6?, )?"([^"]+)"\)')
TELEMETRY_FILE = re.compile(r"deviceid|onnxruntime\.db|DeveloperTools|telemetry", re.IGNORECASE)
TIMEOUT = 600


def off_machine(trace: str) -> list[str]:
    """strace lines that connect or send to an Internet address other than loopback."""
    found = []
    for line in trace.splitlines():
        if not re.search(r"\b(connect|sendto|sendmsg|sendmmsg)\(", line) or "AF_INET" not in line:
            continue
        for address in ADDRESS.findall(line):
            if not (address.startswith("127.") or address in ("::1", "0.0.0.0", "::")):
                found.append(line.strip())
    return found


def test_the_trace_parser_sees_a_lookup() -> None:
    dns = '4030  connect(9, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.255.255.53")}, 16) = 0'
    six = '12 connect(3, {sa_family=AF_INET6, sin6_port=htons(443), sin6_addr=inet_pton(AF_INET6, "2001:db8::1")}'
    local = '7 connect(5, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("127.0.0.1")}, 16) = 0'
    unix = '7 connect(5, {sa_family=AF_UNIX, sun_path="/run/user/0/sleuth/a.sock"}, 110) = 0'
    assert off_machine("\n".join([dns, six, local, unix])) == [dns, six]


def test_a_model_downloaded_once_loads_from_the_cache_without_asking_the_hub(
    tiny_encoder_dir: Path, tmp_path: Path
) -> None:
    """The hub id of a model in the local cache, loaded with the hub reachable in principle (not offline)."""
    snapshot = tmp_path / "hub" / "models--someone--tiny-encoder" / "snapshots" / ("0" * 40)
    shutil.copytree(tiny_encoder_dir, snapshot)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    code = (
        "from core.embedding import load_embedder\n"
        "e = load_embedder('someone/tiny-encoder', device='cpu')\n"
        "print(e.name, e.embed_queries(['a question']).shape)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE} | {"HF_HUB_CACHE": str(tmp_path / "hub")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "someone/tiny-encoder" in done.stdout
    # The suite's network guard in that process fails this test had anything asked huggingface.co.


@pytest.fixture
def user(tmp_path: Path, bundled_cache_dir: Path) -> dict[str, str]:
    """The environment of a user on their own machine: a fresh home, Sleuth's defaults, no switches set."""
    home = tmp_path / "home"
    home.mkdir()
    drop = {*TELEMETRY_OFF, *QUIET_WHERE_TESTED, *OFFLINE, "SLEUTH_DB", "SLEUTH_CONFIG_DIR", "SLEUTH_DATA_DIR"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("XDG_")}
    return env | {
        "HOME": str(home),
        "SLEUTH_RUNTIME_DIR": str(tmp_path / "run"),
        # The converted bundled models, shared with the rest of the suite (converting them takes a while).
        "SLEUTH_CACHE_DIR": str(bundled_cache_dir),
        "OMP_NUM_THREADS": "2",
    }


def sleuth(*args: str) -> list[str]:
    """The installed ``sleuth`` command (what the applications menu starts), else the same entry point."""
    script = Path(sys.executable).with_name("sleuth")
    return [str(script), *args] if script.is_file() else [sys.executable, "-m", "app.launch", *args]


def traced(command: Sequence[str], log: Path) -> list[str]:
    assert STRACE is not None
    return [STRACE, "-f", "-qq", "-e", "trace=connect,sendto,sendmsg,sendmmsg", "-o", str(log), *command]


def run(command: Sequence[str], env: dict[str, str], log: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(traced(command, log), env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.mark.skipif(STRACE is None and not os.environ.get("CI"), reason="needs strace (apt-get install strace)")
def test_indexing_scans_searching_adapting_and_the_window_reach_nothing_off_the_machine(
    user: dict[str, str], tmp_path: Path
) -> None:
    assert STRACE is not None, "CI must have strace: .ci/run installs it"
    folder = tmp_path / "scans"
    folder.mkdir()
    scanned_pdf(folder / "minutes.pdf", picture("Minutes of the rowing club", "held in the boathouse"))
    picture("Invoice from Zanzibarco", "for three lanterns").save(folder / "receipt.png")
    (folder / "notes.txt").write_text("The lighthouse keeper wrote the weather in the logbook every night.\n")
    traces = tmp_path / "traces"
    traces.mkdir()

    run(sleuth("index", str(folder)), user, traces / "index")
    found = run(sleuth("search", "rowing club boathouse", "--json"), user, traces / "search")
    assert Path(json.loads(found.stdout)["results"][0]["path"]).name == "minutes.pdf", "OCR read the scan"
    adapt = ("adapt", "--stage", "ebae", "--steps", "1", "--batch-size", "2", "--rank", "2", "--max-tokens", "32")
    run(sleuth(*adapt, "--device", "cpu", "--no-reindex", "--no-progress"), user, traces / "adapt")

    window_env = user | {"QT_QPA_PLATFORM": "offscreen"}
    window = subprocess.Popen(
        traced(sleuth(), traces / "window"),
        env=window_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: strace, the window and its workers end together
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        answer: dict[str, object] = {}
        while not str(answer.get("served_by", "")).startswith("the Sleuth window"):
            assert window.poll() is None, "the window exited"
            assert time.monotonic() < deadline, "the window never answered a search"
            time.sleep(2)
            asked = run(sleuth("search", "lanterns invoice", "--json"), user, traces / f"ask-{time.monotonic_ns()}")
            answer = json.loads(asked.stdout)
        assert Path(answer["results"][0]["path"]).name == "receipt.png"  # type: ignore[index]
    finally:
        os.killpg(window.pid, signal.SIGTERM)
        try:
            window.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(window.pid, signal.SIGKILL)
            window.wait()

    leaks = {trace.name: off_machine(trace.read_text()) for trace in sorted(traces.iterdir())}
    assert not any(leaks.values()), f"connections off the machine: {leaks}"
    written = [p.relative_to(user["HOME"]) for p in Path(user["HOME"]).rglob("*") if p.is_file()]
    telemetry = [str(p) for p in written if TELEMETRY_FILE.search(str(p))]
    assert not telemetry, f"telemetry files written: {telemetry}"
    assert written, "the run wrote Sleuth's own files under the home folder (settings, index)"

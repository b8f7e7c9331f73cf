"""LanceDB, imported after the engine, builds its REST client's argument checks on first call
(core.lancedb_import): each check still rejects what it rejected, and pydantic is left as it was."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: In a fresh interpreter (the test process has imported LanceDB already): what the import left behind.
PROBE = """
import json, sys
if sys.argv[1] == "engine":
    import core
import lancedb
import pydantic
from pydantic.validate_call_decorator import validate_call as pydantic_validate_call
from lance_namespace_urllib3_client.api.namespace_api import NamespaceApi

method = NamespaceApi.create_namespace
built_before = hasattr(method, "raw_function")  # pydantic's wrapper marks the function it checks
try:
    NamespaceApi().create_namespace(id=5, create_namespace_request=None)
    rejected = []
except pydantic.ValidationError as exc:
    rejected = sorted(str(error["loc"][0]) for error in exc.errors())

@pydantic.validate_call
def later(n: int) -> int:
    return n

db = lancedb.connect(sys.argv[2])
db.create_table("t", data=[{"n": 1}, {"n": 2}])
print(json.dumps({
    "built_before": built_before,
    "rejected": rejected,
    "restored": pydantic.validate_call is pydantic_validate_call,
    "later_built": hasattr(later, "raw_function"),
    "rows": db.open_table("t").count_rows(),
}))
"""


def probe(mode: str, tmp_path: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode, str(tmp_path / mode)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_lancedb_after_the_engine_builds_each_check_on_first_call_and_it_rejects_as_before(tmp_path: Path) -> None:
    engine = probe("engine", tmp_path)
    assert engine["built_before"] is False  # deferred: nothing built at import
    assert engine["rejected"] == ["create_namespace_request", "id"]  # the check, built on the call, still runs
    assert engine["restored"] is True and engine["later_built"] is True  # pydantic itself is untouched after
    assert engine["rows"] == 2
    alone = probe("alone", tmp_path)  # without the engine, LanceDB builds every check as it imports
    assert alone["built_before"] is True
    assert alone["rejected"] == engine["rejected"]

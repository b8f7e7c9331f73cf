#!/usr/bin/env python3
"""Write the Python standard library's docstrings as a folder of text files, one per documented object.

    python scripts/docstring_corpus.py /tmp/stdlib-docstrings

Each file holds an API entry as a reference page holds it: the object's name and signature on the first
line, then its docstring, whose one-line summary opens it. Training on the folder
(scripts/train_default_adapter.py --folder) mines the summary as the query and the signature with the
rest of the docstring as the passage (core.training.data.queries_from), the shape of a reference entry
looked up by what it does. The text comes with the Python that runs this script and needs no network;
the same Python version writes the same files. Objects are taken from the public modules of
``sys.stdlib_module_names`` (no tests, demos, GUI toolkits or modules that act on import), each where it
is defined (not where it is re-exported), each docstring once.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import inspect
import io
import pkgutil
import re
import sys
import warnings
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from types import ModuleType

#: Modules that do something when imported (open a browser, print, start a GUI) or are tests and demos.
SKIP = frozenset(
    "antigravity this idlelib turtledemo tkinter turtle test lib2to3 ensurepip pydoc_data distutils "
    "__hello__ __phello__ xxsubtype xxlimited xxlimited_35 _xxtestfuzz".split()
)
MIN_DOC_CHARS = 60
_UNSAFE = re.compile(r"[^\w.-]+")


def modules(names: list[str] | None = None) -> Iterator[ModuleType]:
    """The modules (packages with their public submodules) of ``names``, by default the whole library."""
    names = sorted(names or (n for n in sys.stdlib_module_names if not n.startswith("_") and n not in SKIP))
    seen: set[str] = set()
    for name in names:
        for module in _import_tree(name):
            if module.__name__ not in seen:
                seen.add(module.__name__)
                yield module


def _import(name: str) -> ModuleType | None:
    try:
        with warnings.catch_warnings(), redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            return importlib.import_module(name)
    except Exception:  # a module this platform lacks (winreg, msvcrt) or that fails to import here
        return None


def _import_tree(name: str) -> Iterator[ModuleType]:
    module = _import(name)
    if module is None:
        return
    yield module
    for info in pkgutil.iter_modules(getattr(module, "__path__", None) or []):
        if not info.name.startswith("_") and info.name not in SKIP and "test" not in info.name:
            yield from _import_tree(f"{name}.{info.name}")


def _signature(obj: object) -> str:
    try:
        return str(inspect.signature(obj))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""


def entries(module: ModuleType) -> Iterator[tuple[str, str]]:
    """(qualified name, entry text) for the module and its public functions, classes and methods."""
    yield module.__name__, f"{module.__name__}\n\n{inspect.getdoc(module) or ''}"
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(obj):
            yield f"{module.__name__}.{name}", _entry(f"class {module.__name__}.{name}", obj)
            for attr, member in sorted(vars(obj).items()):
                if not attr.startswith("_") and (inspect.isroutine(member) or isinstance(member, property)):
                    target = member.fget if isinstance(member, property) else member
                    yield f"{module.__name__}.{name}.{attr}", _entry(f"{module.__name__}.{name}.{attr}", target)
        elif inspect.isroutine(obj):
            yield f"{module.__name__}.{name}", _entry(f"{module.__name__}.{name}", obj)


def _entry(title: str, obj: object) -> str:
    return f"{title}{_signature(obj)}\n\n{inspect.getdoc(obj) or ''}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write (created; existing files are replaced)")
    parser.add_argument("--modules", nargs="+", default=None, help="only these modules (default: all public ones)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    digest = hashlib.sha256()
    written = 0
    for module in modules(args.modules):
        for name, text in entries(module):
            _title, _, doc = text.partition("\n\n")
            if len(doc.strip()) < MIN_DOC_CHARS or doc in seen:
                continue
            seen.add(doc)
            path = args.out / f"{_UNSAFE.sub('_', name)}.txt"
            path.write_text(text.strip() + "\n", encoding="utf-8")
            digest.update(f"{path.name}\0{text}\0".encode())
            written += 1
    print(f"{written} entries from Python {sys.version.split()[0]} in {args.out} (sha256 {digest.hexdigest()[:16]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""LanceDB imports in half the time: its REST client's argument checks are built when first called, not at import.

``import lancedb`` imports the client of Lance's REST namespace service, which Sleuth never calls (its index
is a folder on disk). That client wraps each of its hundreds of methods in pydantic's ``validate_call``, and
building those checks is most of the import: 3.8 s of a core on a 2-core EPYC, against 2.0 s with them
deferred (``python -X importtime -c "import lancedb"``). Every ``sleuth`` command and the window pay it once,
and ``sleuth index`` pays it while its readers want both cores.

``import core`` runs :func:`defer_lancedb_validators`: while LanceDB's own module runs, ``validate_call``
returns a wrapper that builds the real check on its first call, then calls through it. A method's
arguments are checked exactly as before, only later; nothing else in pydantic changes, and nothing at all
once LanceDB has loaded.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

#: The top-level module whose import runs with the checks deferred.
MODULE = "lancedb"


def _deferred(real: Callable[..., Any]) -> Callable[..., Any]:
    """``validate_call`` as ``real`` is, except that each check is built on the function's first call."""

    def validate_call(func: Callable[..., Any] | None = None, /, **options: Any) -> Any:
        if func is None:  # used as @validate_call(...)
            return lambda f: validate_call(f, **options)
        checked: Callable[..., Any] | None = None

        @functools.wraps(func)
        def call(*args: Any, **kwargs: Any) -> Any:
            nonlocal checked
            if checked is None:
                checked = real(func, **options)
            return checked(*args, **kwargs)

        return call

    return validate_call


class _Loader(importlib.abc.Loader):
    """LanceDB's own loader, running its module with pydantic's ``validate_call`` deferred."""

    def __init__(self, inner: importlib.abc.Loader) -> None:
        self.inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        import pydantic

        real = pydantic.validate_call
        pydantic.validate_call = _deferred(real)
        try:
            self.inner.exec_module(module)
        finally:
            pydantic.validate_call = real

    def __getattr__(self, name: str) -> Any:  # whatever else a package's loader offers (resources)
        return getattr(self.inner, name)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds LanceDB as the path finder does and hands it to :class:`_Loader`; steps aside for anything else."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


def defer_lancedb_validators() -> None:
    """Import LanceDB with its REST client's checks deferred, whenever it is first imported (idempotent)."""
    if MODULE not in sys.modules and not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())

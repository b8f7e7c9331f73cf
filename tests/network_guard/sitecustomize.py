"""Installs the network guard in every Python process a test starts (this folder is first on PYTHONPATH).

Another ``sitecustomize`` further along the path (a distribution's) still runs after it.
"""

import importlib.machinery
import importlib.util
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import sleuth_network_guard

    sleuth_network_guard.install()
finally:
    sys.path.pop(0)

_here = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.machinery.PathFinder.find_spec(
    "sitecustomize", [p for p in sys.path if os.path.abspath(p or ".") != _here]
)
if _spec is not None and _spec.loader is not None:
    _module = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_module)

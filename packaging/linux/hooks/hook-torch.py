# torch for Sleuth's frozen program: the contributed hook's files (data files, every shared library, the .py sources
# beside the bytecode) with its hidden imports found by listing torch's folders rather than importing every
# subpackage, which takes most of a build's time; CPU build only (packaging/linux/build.sh sees to that).
# ruff: noqa
from pathlib import Path

from PyInstaller.utils.hooks import PY_DYLIB_PATTERNS, collect_data_files, collect_dynamic_libs, get_package_paths

module_collection_mode = "pyz+py"  # torch reads its own source (inspect, TorchScript)
warn_on_missing_hiddenimports = False

datas = collect_data_files(
    "torch", excludes=["**/*.h", "**/*.hpp", "**/*.cuh", "**/*.lib", "**/*.cpp", "**/*.pyi", "**/*.cmake"]
)
binaries = collect_dynamic_libs("torch", search_patterns=[*PY_DYLIB_PATTERNS, "*.so.*"])
bindepend_symlink_suppression = ["**/torch/lib/*.so*"]

_, _package = get_package_paths("torch")
_root = Path(_package)
# Not read by Sleuth and large to analyse: the test suite's helpers and the compiler stacks' code generators.
_SKIP = ("torch.testing._internal", "torch.utils.benchmark", "torch.utils.tensorboard", "torch.onnx", "torch._inductor")
hiddenimports = []
for _file in sorted(_root.rglob("*.py")):
    _parts = _file.relative_to(_root.parent).with_suffix("").parts
    if _parts[-1] == "__init__":
        _parts = _parts[:-1]
    _name = ".".join(_parts)
    if "-" in _name or any(_name == s or _name.startswith(s + ".") for s in _SKIP):
        continue
    hiddenimports.append(_name)

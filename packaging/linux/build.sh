#!/usr/bin/env bash
# `make package`: Sleuth frozen into one folder by PyInstaller (packaging/linux/sleuth.spec), packed as
#   dist/sleuth_<version>_amd64.deb            installs into /opt/sleuth, the `sleuth` command in /usr/bin,
#                                               the menu entry, icon and AppStream metainfo under /usr/share
#   dist/sleuth_<version>_linux_x86_64.tar.gz  the same folder, to unpack anywhere and run ./sleuth
# Needs the development environment (`make install`: PyInstaller is in the dev extra) and dpkg-deb.
# Nothing is downloaded: everything comes from the virtual environment. docs/packaging.md has the details.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${SLEUTH_PYTHON:-$root/.venv/bin/python}"
work="$root/build/package"
out="$root/dist"
version="$("$python" -c 'import tomllib, sys; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' \
    "$root/pyproject.toml")"
deb="$out/sleuth_${version}_amd64.deb"
tarball="$out/sleuth_${version}_linux_x86_64.tar.gz"

say() { printf 'package: %s\n' "$*"; }

command -v dpkg-deb >/dev/null || { say "dpkg-deb is missing (apt-get install dpkg)" >&2; exit 1; }
[ "$(uname -m)" = x86_64 ] || { say "builds for x86_64 only, this is $(uname -m)" >&2; exit 1; }

# The package carries torch's CPU build: where this environment has the CUDA build, a CPU one is made for it.
if "$python" -c 'import sys, torch; sys.exit(torch.version.cuda is None)'; then
    say "this environment has torch's CUDA build; installing a CPU one into build/venv-cpu"
    make -C "$root" install VENV=build/venv-cpu TORCH=cpu
    python="$root/build/venv-cpu/bin/python"
fi

rm -rf "$work"
mkdir -p "$work" "$out"
say "freezing Sleuth $version with PyInstaller"
"$python" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$work/dist" --workpath "$work/pyinstaller" "$here/sleuth.spec"
program="$work/dist/sleuth"
"$program/sleuth" --version  # the frozen program starts at all, before anything is packed

# The menu entry, icon and metainfo go into the tarball's share/ as well: to install them by hand.
share="$work/share"
install -Dm644 "$root/resources/sleuth.desktop" "$share/applications/sleuth.desktop"
install -Dm644 "$root/resources/sleuth.svg" "$share/icons/hicolor/scalable/apps/sleuth.svg"
sed "s/@VERSION@/$version/; s/@DATE@/$(date -u +%Y-%m-%d)/" "$here/sleuth.metainfo.xml" \
    | install -Dm644 /dev/stdin "$share/metainfo/sleuth.metainfo.xml"

stage="$work/deb"
mkdir -p "$stage/opt" "$stage/usr/bin" "$stage/DEBIAN"
cp -a "$program" "$stage/opt/sleuth"
cp -a "$share" "$stage/usr/share"
ln -s /opt/sleuth/sleuth "$stage/usr/bin/sleuth"
# Qt's platform plugins load these from the system (docs/packaging.md); the t64 names of Ubuntu 24.04 provide
# the older names. Nothing else: the folder carries its own Python, torch and Qt.
depends="libc6 (>= 2.36), libegl1, libgl1, libfontconfig1, libfreetype6, libglib2.0-0, libdbus-1-3"
depends+=", libx11-6, libx11-xcb1, libxkbcommon0, libxkbcommon-x11-0, libxcb1, libxcb-cursor0, libxcb-icccm4"
depends+=", libxcb-image0, libxcb-keysyms1, libxcb-randr0, libxcb-render-util0, libxcb-shape0, libxcb-xfixes0"
depends+=", libxcb-xinerama0, libxcb-xkb1, libwayland-client0, libwayland-cursor0, libwayland-egl1"
cat >"$stage/DEBIAN/control" <<EOF
Package: sleuth
Version: $version
Architecture: amd64
Maintainer: Sleuth developers
Installed-Size: $(du -sk "$stage" | cut -f1)
Depends: $depends
Section: utils
Priority: optional
Description: desktop semantic search over your own documents
 Sleuth indexes the folders you choose and finds passages by meaning and by
 keyword, on this machine only: local embedding models (bundled), LanceDB,
 hybrid search and reranking. Its own Python, torch (CPU) and Qt are inside
 /opt/sleuth. Removing the package leaves your index and settings in your
 home folder (~/.local/share/sleuth, ~/.config/sleuth).
EOF
rm -f "$deb" "$tarball"
say "packing $deb"
# zstd (dpkg reads it since 1.21.18: Debian 12, Ubuntu 21.10) packs 1.7 GB in about a minute of CPU time; xz took
# over ten minutes for a package a fifth smaller.
dpkg-deb --root-owner-group -Zzstd -z9 --build "$stage" "$deb" >/dev/null
say "packing $tarball"
mkdir -p "$work/tar"
mv "$program" "$work/tar/sleuth-$version"
mv "$share" "$work/tar/sleuth-$version/share"
tar -C "$work/tar" --owner=0 --group=0 -czf "$tarball" "sleuth-$version"
say "done: $(du -h "$deb" | cut -f1) $deb, $(du -h "$tarball" | cut -f1) $tarball, $(du -sh "$stage/opt/sleuth" | cut -f1) unpacked"

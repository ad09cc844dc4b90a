#!/usr/bin/env bash
# The Debian package as a user gets it: cpack builds the .deb from a built folder, dpkg -x
# unpacks it into a scratch root, and the installed programs run from there.
#   tests/package_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { printf 'package test: %s\n' "$*" >&2; exit 1; }

(cd "$build" && cpack -G DEB -B "$tmp/out" >"$tmp/cpack.log" 2>&1) || { cat "$tmp/cpack.log" >&2; fail "cpack failed"; }
version=$(sed -n 's/^project(bitbench VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
deb="$tmp/out/bitbench_${version}_$(dpkg --print-architecture).deb"
[ -f "$deb" ] || fail "expected $(basename "$deb"), cpack made: $(cd "$tmp/out" && ls ./*.deb 2>/dev/null)"
[ "$(dpkg-deb -f "$deb" Package)" = bitbench ] || fail "package name is not bitbench"
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "package version is not $version"
# Dependencies come from dpkg-shlibdeps: the libraries the programs link, with versions.
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libstdc++6 libtbb12 libsqlite3-0 libqt6widgets6 libqt6svg6 libqcustomplot; do
  [[ "$depends" == *"$lib"* ]] || fail "Depends lacks $lib: $depends"
done

root="$tmp/root"
dpkg -x "$deb" "$root"
usr="$root/usr"
for f in bin/bitbench bin/bitbench-cli share/applications/bitbench.desktop \
         share/icons/hicolor/scalable/apps/bitbench.svg share/man/man1/bitbench.1.gz \
         share/man/man1/bitbench-cli.1.gz share/doc/bitbench/copyright; do
  [ -f "$usr/$f" ] || fail "the package lacks /usr/$f"
done
for size in 16 24 32 48 64 128 256; do
  png="$usr/share/icons/hicolor/${size}x${size}/apps/bitbench.png"
  [ -f "$png" ] || fail "the package lacks the ${size}x${size} icon"
  file -b "$png" | grep -q "^PNG image data, $size x $size," || fail "$png is not a ${size}x${size} PNG: $(file -b "$png")"
done
# Every shipped experiment and sweep, nothing else.
diff <(cd "$src/experiments" && ls ./*.json) <(cd "$usr/share/bitbench/experiments" && ls ./*.json) \
  || fail "the installed experiments differ from experiments/ (diff above)"
desktop-file-validate "$usr/share/applications/bitbench.desktop" || fail "the desktop entry does not validate"
grep -qx 'Icon=bitbench' "$usr/share/applications/bitbench.desktop" || fail "the desktop entry names no Icon=bitbench"
grep -qx 'Exec=bitbench' "$usr/share/applications/bitbench.desktop" || fail "the desktop entry does not run bitbench"
for exe in bitbench bitbench-cli; do
  if readelf -d "$usr/bin/$exe" | grep -qE 'RPATH|RUNPATH'; then fail "$exe keeps a build-tree RPATH"; fi
  if ldd "$usr/bin/$exe" | grep -q 'not found'; then fail "$exe needs a library that is not found: $(ldd "$usr/bin/$exe" | grep 'not found')"; fi
done

export BITBENCH_DATA_DIR="$tmp/data" QT_QPA_PLATFORM=offscreen
cd "$tmp" # no experiments/ folder here: shipped experiments must come from the package
[ "$("$usr/bin/bitbench-cli" --version)" = "bitbench-cli $version" ] || fail "bitbench-cli --version does not print 'bitbench-cli $version'"
[ "$("$usr/bin/bitbench" --version 2>/dev/null)" = "bitbench $version" ] || fail "bitbench --version does not print 'bitbench $version'"

# The man pages hold every option that each program's --help lists.
for exe in bitbench bitbench-cli; do
  page=$(gzip -dc "$usr/share/man/man1/$exe.1.gz" | sed 's/\\-/-/g')
  [[ "$page" == *".TH ${exe^^} \"1\""* ]] || fail "$exe.1 is not a section 1 man page for $exe"
  for opt in $("$usr/bin/$exe" --help 2>/dev/null | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
    [[ "$page" == *"$opt"* ]] || fail "$exe --help lists $opt, its man page does not"
  done
done

# A tiny synthetic run of an experiment found by name beside the installed program.
cat >"$usr/share/bitbench/experiments/package-test-tiny.json" <<'JSON'
{"name": "package-test-tiny", "model": "mlp", "dataset": "synthetic", "bits": "2-8-8-8",
 "batch": 16, "epochs": 1, "train_limit": 64, "test_limit": 32, "seed": 1}
JSON
"$usr/bin/bitbench-cli" train package-test-tiny --no-store --json >"$tmp/train.out" 2>"$tmp/train.err" \
  || { cat "$tmp/train.err" >&2; fail "bitbench-cli train package-test-tiny failed"; }
tail -1 "$tmp/train.out" | grep -q '"final_test_error"' || fail "train printed no JSON result: $(tail -1 "$tmp/train.out")"
# A shipped experiment by name: read from the package, then stopped by the empty data folder.
set +e
"$usr/bin/bitbench-cli" train wage-lenet5-fashion-mnist-2888 --epochs 1 --no-store >/dev/null 2>"$tmp/fashion.err"
code=$?
set -e
[ "$code" = 3 ] || { cat "$tmp/fashion.err" >&2; fail "train wage-lenet5-fashion-mnist-2888 without data exited $code, expected 3"; }
grep -q "$tmp/data/datasets/fashion-mnist" "$tmp/fashion.err" || fail "the data error does not name the fashion-mnist folder: $(cat "$tmp/fashion.err")"
echo "package test: $(basename "$deb") installs and runs"

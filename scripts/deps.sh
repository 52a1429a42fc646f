#!/usr/bin/env bash
# deps.sh [build|test|bench] — install the Debian packages CloakX needs that are missing.
# Idempotent and quick when everything is there; says clearly what it could not install.
set -euo pipefail
what=${1:-build}

pkgs=(build-essential cmake pkg-config git ca-certificates
      libssl-dev libcurl4-openssl-dev libjansson-dev libhwloc-dev libopenblas-dev
      libsodium-dev libsqlite3-dev libcbor-dev libcmocka-dev libbenchmark-dev libxml2-dev
      libmicrohttpd-dev
      python3 python3-numpy)
# Open MPI: data-parallel training across processes (issue 17); optional in CMake, the library
# builds and its tests pass without it
pkgs+=(openmpi-bin libopenmpi-dev)
if [ "$what" = test ]; then
    # clang + its runtimes for the sanitizer/libFuzzer build, clang-format for the style check;
    # scikit-learn for model-quality tests.
    pkgs+=(clang clang-format libclang-rt-dev libomp-dev python3-sklearn)
    # jq and xxd: the marketplace end-to-end tests read the commands' JSON output with them
    pkgs+=(jq xxd)
    # the worker's status page is loaded in a headless browser; /metrics is read with the
    # Prometheus client's own text-format parser
    pkgs+=(chromium python3-prometheus-client)
    # node + npm: the Move syntax check and the @mysten/sui differential test install their npm
    # packages into the build tree (tests/node). A node from elsewhere (nodesource) brings its
    # own npm, which Debian's npm package would conflict with.
    if ! command -v npm >/dev/null; then
        pkgs+=(nodejs npm)
    fi
fi
if [ "$what" = bench ]; then
    # PyTorch: bench/torch_mlp.py, the peer of `cloakx bench train` (large; benchmarks only)
    pkgs+=(python3-torch)
fi

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep >/dev/null 'install ok installed'; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all ${#pkgs[@]} packages present"
    exit 0
fi

echo "deps: installing ${missing[*]}"
SUDO=
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then SUDO=sudo; else
        echo "deps: missing packages (${missing[*]}) and not root: install them as root" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get update -qq; then
    echo "deps: apt-get update failed: check the network or /etc/apt/sources.list" >&2
    exit 1
fi
if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/cloakx-deps.log 2>&1; then
    tail -n 20 /tmp/cloakx-deps.log >&2
    echo "deps: apt-get install of (${missing[*]}) failed; log in /tmp/cloakx-deps.log" >&2
    exit 1
fi
echo "deps: installed ${#missing[@]} packages"

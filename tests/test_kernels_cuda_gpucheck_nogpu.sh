#!/usr/bin/env bash
# test_kernels_cuda_gpucheck_nogpu.sh — bench/gpu-check.sh where there is no usable GPU: it must
# fail within seconds (exit 1), name the cause, and build nothing. Three machines are imitated.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fails=0

# run NAME EXPECTED-TEXT [env assignments...]: gpu-check with those variables
run() {
    local name=$1 want=$2
    shift 2
    local t0 t1
    t0=$(date +%s)
    env "$@" CX_GPU_CHECK_BUILD="$tmp/build-$name" "$BASH" "$ROOT/bench/gpu-check.sh" \
        >"$tmp/$name.out" 2>"$tmp/$name.err"
    local rc=$?
    t1=$(date +%s)
    if [ "$rc" -ne 1 ]; then
        echo "FAIL $name: exit $rc, want 1"; fails=$((fails + 1))
    elif ! grep -qF "$want" "$tmp/$name.err"; then
        echo "FAIL $name: stderr lacks '$want':"; cat "$tmp/$name.err"; fails=$((fails + 1))
    elif [ $((t1 - t0)) -gt 20 ]; then
        echo "FAIL $name: took $((t1 - t0)) s (must fail fast)"; fails=$((fails + 1))
    elif [ -e "$tmp/build-$name" ]; then
        echo "FAIL $name: created a build directory without a GPU"; fails=$((fails + 1))
    else
        echo "ok   $name: $(tail -n 1 "$tmp/$name.err")"
    fi
}

# 1. the NVIDIA tools are installed but no driver / GPU answers (nvidia-smi's own message)
mkdir -p "$tmp/nodriver"
cat >"$tmp/nodriver/nvidia-smi" <<'EOF'
#!/bin/sh
echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running."
exit 9
EOF
chmod +x "$tmp/nodriver/nvidia-smi"
run nodriver "no usable GPU: nvidia-smi failed: NVIDIA-SMI has failed" PATH="$tmp/nodriver:$PATH"

# 2. no NVIDIA tools at all: a PATH with only the basic tools the script needs
mkdir -p "$tmp/bare"
for tool in dirname nproc head tail tr timeout mkdir grep cat rm date env; do
    p=$(command -v "$tool") && ln -s "$p" "$tmp/bare/$tool"
done
run bare "no GPU: nvidia-smi is not installed" PATH="$tmp/bare"

# 3. a GPU is listed but there is no CUDA toolkit
mkdir -p "$tmp/notoolkit"
cat >"$tmp/notoolkit/nvidia-smi" <<'EOF'
#!/bin/sh
echo "0, NVIDIA H100 80GB HBM3, 81559 MiB, 570.00, 00000000:1B:00.0"
EOF
chmod +x "$tmp/notoolkit/nvidia-smi"
run notoolkit "no CUDA toolkit" PATH="$tmp/notoolkit:$tmp/bare" CUDACXX="$tmp/none/nvcc"

[ "$fails" -eq 0 ] || exit 1
echo "gpu-check fails fast and clearly without a GPU (3 cases)"

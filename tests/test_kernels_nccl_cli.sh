#!/usr/bin/env bash
# test_kernels_nccl_cli.sh — `cloakx train` with CLOAKX_TRAIN_DIST=1 (the across-ranks step path
# at one rank, what bench/gpu-check.sh times NCCL against the host path with) on the cpu: the
# host path, said in --json's "allreduce", and the one-process model's bytes, directly and under
# mpirun -np 1 (a real, sealed MPI communicator of one rank) where mpirun is there.
set -euo pipefail
cx=${CLOAKX:?}
fail() { echo "FAIL: $*" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
export OMPI_MCA_btl_vader_single_copy_mechanism=none
if [ -n "${CX_SANITIZE:-}" ]; then # Open MPI's plugins leak at MPI_Finalize
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
fi
awk 'BEGIN { srand(7); print "a,b,c,y";
  for (i = 0; i < 900; i++) {
    a = rand() * 4 - 2; b = rand() * 4 - 2; c = rand() * 2 - 1; s = a - 0.5 * b + c;
    printf "%.4f,%.4f,%.4f,%s\n", a, b, c, (s > 0.5 ? "p" : (s < -0.5 ? "n" : "z")) }
}' >data.csv
cat >spec.json <<'J'
{"task": "classification", "data": {"label": "y"}, "model": {"type": "mlp", "hidden": [16]},
 "epochs": 4, "batch_size": 64, "seed": 3}
J
field() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
run() { # out, then the launcher words (none: direct)
    local out=$1
    shift
    "$@" "$cx" train --spec spec.json --data data.csv --out "$out" --device cpu --threads 1 --json
}
one=$(run one.safetensors)
[ "$(field "$one" allreduce)" = none ] || fail "one process: allreduce $(field "$one" allreduce)"
dist=$(CLOAKX_TRAIN_DIST=1 run dist.safetensors)
[ "$(field "$dist" allreduce)" = host ] || fail "CLOAKX_TRAIN_DIST=1: not the host path"
[ "$(field "$dist" steps)" = "$(field "$one" steps)" ] || fail "CLOAKX_TRAIN_DIST=1: other steps"
cmp -s one.safetensors dist.safetensors || fail "CLOAKX_TRAIN_DIST=1: another model than one process"
if command -v mpirun >/dev/null && grep "Open MPI" >/dev/null <<<"$(mpirun --version 2>&1)"; then
    root=()
    [ "$(id -u)" = 0 ] && root=(--allow-run-as-root)
    set +e
    mpi=$(run mpi.safetensors timeout 60 mpirun "${root[@]}" -np 1 --bind-to none \
          env CLOAKX_TRAIN_DIST=1 2>err.txt)
    rc=$?
    set -e
    if [ "$rc" != 0 ] && grep -q "MPI is not available" err.txt; then
        echo "ok (direct; this build has no MPI module: $(head -n 1 err.txt))"
        exit 0
    fi
    [ "$rc" = 0 ] || { cat err.txt >&2; fail "under mpirun -np 1 (exit $rc)"; }
    [ "$(field "$mpi" allreduce)" = host ] && [ "$(field "$mpi" ranks)" = 1 ] ||
        fail "under mpirun -np 1: allreduce $(field "$mpi" allreduce), ranks $(field "$mpi" ranks)"
    cmp -s one.safetensors mpi.safetensors || fail "under mpirun -np 1: another model"
    echo "ok (direct and under mpirun -np 1)"
else
    echo "ok (direct; no Open MPI mpirun here)"
fi

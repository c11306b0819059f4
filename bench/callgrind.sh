#!/bin/sh
# Instructions per full turn: bench/turns.py under callgrind (instrumented only while the
# measured turns run). Usage: bench/callgrind.sh OUTDIR [bench.turns options]
set -e
out=$1; shift
mkdir -p "$out"
py=.venv/bin/python  # the venv's own path: Python finds its venv from it
exec valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/cg.%p" \
    "$py" -m bench.turns --callgrind "$out" "$@"

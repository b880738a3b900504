#!/usr/bin/env bash
# Runs the headless Neovim specs: tests/nvim/run.sh NVIM_BIN
# Each spec runs in its own clean Neovim; the first failing spec's LSP log is printed.
set -euo pipefail
nvim=${1:?usage: run.sh NVIM_BIN}
cd "$(dirname "$0")"
passed=0
failed=0
for spec in *_spec.lua; do
  if timeout 120 "$nvim" --headless --clean -l "$spec"; then
    passed=$((passed + 1))
  else
    echo "tests/nvim/$spec failed" >&2
    failed=$((failed + 1))
  fi
done
echo
echo "nvim: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

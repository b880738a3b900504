#!/usr/bin/env bash
# missions lsp in Emacs with eglot: installs Debian's emacs-nox and elpa-eglot when missing,
# lays out the workspace (tests/e2e), takes the README's Emacs setup out of README.md, and runs
# missions-e2e.el in batch Emacs. Usage: tests/emacs/run.sh  (MISSIONS_BIN: the binary)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${MISSIONS_BIN:-$root/target/debug/missions}
started=$(date +%s)

if ! command -v emacs >/dev/null || ! ls -d /usr/share/emacs/site-lisp/elpa/eglot-* >/dev/null 2>&1; then
  echo "tests/emacs: installing Debian's emacs-nox and elpa-eglot" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq emacs-nox elpa-eglot >/dev/null) \
    || { echo "tests/emacs: could not install emacs-nox and elpa-eglot (apt-get, as root)" >&2; exit 2; }
fi

rm -rf "$root/target/e2e/emacs-failure"
work=$(mktemp -d "${TMPDIR:-/tmp}/missions-emacs-XXXXXX")
model_pid=
cleanup() {
  [ -n "$model_pid" ] && kill "$model_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ws="$work/ws"
mkdir -p "$ws"
cp -R "$root/tests/e2e/fixtures/notes" "$ws/notes"
repo=$(MISSIONS_BIN="$bin" "$root/tests/e2e/make-calc-repo" "$ws")

# The fake model, and missions.toml pointing every role at it (git-excluded by make-calc-repo).
python3 "$root/tests/e2e/fake_model.py" --recording "$root/server/demo/recording.jsonl" --lifetime 600 \
  --log "$work/fake-model.log" > "$work/model-url" &
model_pid=$!
for _ in $(seq 100); do [ -s "$work/model-url" ] && break; sleep 0.1; done
url=$(head -n 1 "$work/model-url")
for role in orchestrator worker validator; do
  printf '[roles.%s]\nprovider = "openai"\nmodel = "fake"\nbase_url = "%s/%s/v1"\n\n' "$role" "$url" "$role"
done > "$repo/missions.toml"
# Plan it now (it then waits for approval): the test opens the plan and runs it from Emacs.
status=0
(cd "$repo" && "$bin" run --quiet </dev/null >/dev/null) || status=$?
[ "$status" -eq 4 ] || { echo "tests/emacs: planning the calculator mission exited $status, not 4 (waiting for approval)" >&2; exit 1; }

# The README's Emacs setup, as a person would paste it.
awk '/^### Emacs$/ {on=1} on && /^```elisp$/ {take=1; next} take && /^```$/ {exit} take {print}' "$root/README.md" > "$work/setup.el"
[ -s "$work/setup.el" ] || { echo "tests/emacs: no elisp block under README.md's ### Emacs" >&2; exit 1; }

eglot_dir=$(ls -d /usr/share/emacs/site-lisp/elpa/eglot-* | sort -V | tail -n 1)
set +e
PATH="$(dirname "$bin"):$PATH" HOME="$work/home" MISSIONS_E2E_WS="$ws" MISSIONS_E2E_SETUP="$work/setup.el" \
  timeout 300 emacs --batch -Q \
  --eval "(progn (require 'package) (setq package-directory-list '(\"/usr/share/emacs/site-lisp/elpa\")) (package-initialize))" \
  -l "$root/tests/emacs/missions-e2e.el" -f ert-run-tests-batch-and-exit 2>&1 | tee "$work/emacs.log" | grep -Ev '^(Loading|Package|Wrote|Saving)'
status=${PIPESTATUS[0]}
set -e
passed=$(grep -cE '^ +passed +[0-9]+/' "$work/emacs.log" || true)
failed=$(grep -cE '^ +FAILED +[0-9]+/' "$work/emacs.log" || true)
if [ "$status" -ne 0 ]; then
  mkdir -p "$root/target/e2e/emacs-failure"
  cp "$work/emacs.log" "$work/fake-model.log" "$root/target/e2e/emacs-failure/" 2>/dev/null || true
  echo "tests/emacs: logs in target/e2e/emacs-failure/" >&2
  [ "$failed" -gt 0 ] || failed=1
fi
echo
echo "emacs: $passed passed, $failed failed ($(( $(date +%s) - started )) s)"
[ "$status" -eq 0 ]

#!/usr/bin/env bash
# The extension in a real VS Code: installs (once, cached under target/e2e/) code-server from
# npm, Debian's chromium and the driver's puppeteer-core, packages the extension as a .vsix,
# then runs run.mjs. Usage: tests/vscode/run.sh  (MISSIONS_BIN: default target/debug/missions)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
e2e=target/e2e
mkdir -p "$e2e"

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v rg >/dev/null || missing+=(ripgrep)
if [ ${#missing[@]} -gt 0 ]; then
  echo "tests/vscode: installing Debian's ${missing[*]}" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null) \
    || { echo "tests/vscode: could not install ${missing[*]} (apt-get, as root)" >&2; exit 2; }
fi

code_server=$(scripts/install-code-server "$e2e/code-server" | tail -n 1)

# The driver's npm packages, from its lockfile, again only when the lockfile changes.
driver="$e2e/driver"
lock_hash=$(sha256sum tests/vscode/package-lock.json | cut -d' ' -f1)
if [ "$(cat "$driver/.lock-hash" 2>/dev/null)" != "$lock_hash" ]; then
  rm -rf "$driver" && mkdir -p "$driver"
  cp tests/vscode/package.json tests/vscode/package-lock.json "$driver/"
  (cd "$driver" && npm ci --no-audit --no-fund --loglevel=error >&2)
  echo "$lock_hash" > "$driver/.lock-hash"
fi

# The extension as a person installs it: the packaged .vsix (vsce from editors/vscode's own
# packages, which scripts/test installs from its lockfile before this runs).
vsix="$root/$e2e/missions.vsix"
(
  cd editors/vscode
  [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error >&2
  node node_modules/@vscode/vsce/vsce package --no-dependencies --out "$vsix" >/dev/null
)

CODE_SERVER="$code_server" CHROMIUM="$(command -v chromium)" VSIX="$vsix" DRIVER="$root/$driver" \
  MISSIONS_BIN="${MISSIONS_BIN:-$root/target/debug/missions}" \
  timeout 600 node tests/vscode/run.mjs

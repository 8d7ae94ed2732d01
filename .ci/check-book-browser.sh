#!/usr/bin/env bash
# Loads every chapter of the built book (book/book, from .ci/check-book.sh) in headless
# Chromium, served from a local server on 127.0.0.1, and fails if a formula is not rendered,
# an image does not load, a page has a script error, or any request goes to another host
# (.ci/browser/check.mjs). Prints, per chapter, the height of the page above its first
# equation at a 1400 px wide window.
# Needs Debian's `chromium` and the pinned playwright-core in .ci/browser/node_modules, both
# installed by .ci/install-book-tools.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT="$ROOT/book/book"
DIR="$ROOT/.ci/browser"

die() { printf 'check-book-browser: FAIL: %s\n' "$*" >&2; exit 1; }

[[ -f "$OUT/index.html" ]] || die "book/book is not built: run .ci/check-book.sh first"
CHROMIUM=$(command -v chromium || true)
[[ -n "$CHROMIUM" ]] || die "chromium is not installed: run .ci/install-book-tools.sh"
[[ -d "$DIR/node_modules/playwright-core" ]] || die "playwright-core is not installed: run .ci/install-book-tools.sh"

# A local server on a port the system picks; its first line names the port.
log=$(mktemp)
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$OUT" >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -f "$log"' EXIT
port=""
for _ in $(seq 50); do
    port=$(grep -oE 'port [0-9]+' "$log" | head -n 1 | cut -d' ' -f2 || true)
    [[ -n "$port" ]] && break
    sleep 0.1
done
[[ -n "$port" ]] || die "the local server did not start: $(cat "$log")"

printf 'check-book-browser: %s, serving book/book on 127.0.0.1:%s\n' "$("$CHROMIUM" --version 2>/dev/null || echo chromium)" "$port"
node "$DIR/check.mjs" "http://127.0.0.1:$port" "$ROOT/book/src/SUMMARY.md" "$CHROMIUM"

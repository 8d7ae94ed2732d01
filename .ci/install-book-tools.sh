#!/usr/bin/env bash
# Installs what the book needs, pinned, into ignored folders of this checkout:
#   .tools/bin/mdbook, .tools/bin/mdbook-katex    (cargo install --locked, from crates.io)
#   book/theme/katex/katex.min.css                (KaTeX's stylesheet, from npm's `katex`)
#   book/src/theme/katex/fonts/, LICENSE          (KaTeX's fonts and licence, same package)
#   chromium                                      (Debian's package, for the browser check)
#   .ci/browser/node_modules/playwright-core      (npm ci, pinned by .ci/browser/package-lock.json)
# Idempotent: whatever is already installed at the pinned version is skipped.
#
# Why these versions:
# - mdbook-katex 0.10.0 is the first release on mdBook 0.5's preprocessor API
#   (mdbook-preprocessor 0.5); the 0.9 line fails under mdbook 0.5 ("missing field
#   `sections`", lzanini/mdbook-katex#130). Its Cargo.lock pins mdbook-preprocessor 0.5.3,
#   and it warns when the calling mdbook differs from that version, so mdbook is 0.5.3.
# - mdbook-katex 0.10.0 renders with the `katex` crate 0.4.6 (its Cargo.lock), whose
#   vendored katex.min.js is KaTeX 0.16.4 (the crate's KATEX-VERSION file). The stylesheet
#   and fonts must be that same version, so the npm package is katex@0.16.4, checked
#   against the registry's sha512 below.
# - The stylesheet sits outside src/ because mdbook resolves `additional-css` against the
#   book root and writes it to the same relative path in the output: the CSS at
#   book/theme/katex/ lands in <out>/theme/katex/, beside the fonts that mdbook copies
#   from book/src/theme/katex/fonts/ to <out>/theme/katex/fonts/, so the CSS's relative
#   `url(fonts/...)` resolves with no rewriting.
set -euo pipefail

MDBOOK_VERSION=0.5.3
MDBOOK_KATEX_VERSION=0.10.0
KATEX_VERSION=0.16.4
KATEX_NPM_INTEGRITY='sha512-WudRKUj8yyBeVDI4aYMNxhx5Vhh2PjpzQw1GRu/LVGqL4m1AxwD1GcUp0IMbdJaf5zsjtj8ghP0DOQRYhroNkw=='

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS="$ROOT/.tools"
CSS_DIR="$ROOT/book/theme/katex"
SRC_DIR="$ROOT/book/src/theme/katex"
FONT_DIR="$SRC_DIR/fonts"
STAMP="$CSS_DIR/.installed"

say() { printf 'install-book-tools: %s\n' "$*"; }
die() { printf 'install-book-tools: ERROR: %s\n' "$*" >&2; exit 1; }

# Prints the version a tool reports ("mdbook v0.5.3" -> "0.5.3"), or nothing.
installed_version() {
    local exe="$TOOLS/bin/$1"
    [[ -x "$exe" ]] || return 0
    "$exe" --version 2>/dev/null | awk '{ sub(/^v/, "", $2); print $2 }'
}

# cargo install runs from / so that this repository's .cargo/config.toml
# (`-C target-cpu=native`) does not leak into the tools' build.
install_crate() {
    local crate=$1 version=$2
    local have
    have=$(installed_version "$crate")
    if [[ "$have" == "$version" ]]; then
        say "$crate $version already in .tools/bin, skipping"
        return
    fi
    say "installing $crate $version${have:+ (found $have)} into .tools/ (cargo install --locked)"
    local start=$SECONDS
    (cd / && cargo install --locked --quiet --root "$TOOLS" --version "=$version" "$crate")
    have=$(installed_version "$crate")
    [[ "$have" == "$version" ]] || die "$crate reports version '$have' after install, wanted $version"
    say "$crate $version installed in $((SECONDS - start)) s"
}

install_katex_assets() {
    if [[ -f "$STAMP" && "$(cat "$STAMP")" == "katex@$KATEX_VERSION" \
        && -f "$CSS_DIR/katex.min.css" && -f "$FONT_DIR/KaTeX_Main-Regular.woff2" ]]; then
        say "KaTeX $KATEX_VERSION CSS and fonts already installed, skipping"
        return
    fi
    command -v npm >/dev/null || die "npm is needed to fetch katex@$KATEX_VERSION from the npm registry"
    say "fetching katex@$KATEX_VERSION from the npm registry (npm pack)"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    local tarball
    tarball=$(cd "$tmp" && npm pack --silent "katex@$KATEX_VERSION" | tail -n 1)
    [[ -f "$tmp/$tarball" ]] || die "npm pack katex@$KATEX_VERSION produced no tarball"
    local got
    got="sha512-$(openssl dgst -sha512 -binary "$tmp/$tarball" | base64 -w0)"
    [[ "$got" == "$KATEX_NPM_INTEGRITY" ]] \
        || die "katex@$KATEX_VERSION tarball integrity $got differs from the pinned $KATEX_NPM_INTEGRITY"
    tar -xzf "$tmp/$tarball" -C "$tmp"
    local dist="$tmp/package/dist"
    grep -q "\"$KATEX_VERSION\"" "$dist/katex.min.js" \
        || die "the package's katex.min.js does not say version $KATEX_VERSION"

    rm -rf "$CSS_DIR" "$SRC_DIR"
    mkdir -p "$CSS_DIR" "$FONT_DIR"
    cp "$dist/katex.min.css" "$CSS_DIR/"
    cp "$dist/fonts/"* "$FONT_DIR/"
    # Every font the stylesheet names must now exist beside it.
    local missing=0 font
    while read -r font; do
        [[ -f "$FONT_DIR/$font" ]] || { say "missing font $font"; missing=1; }
    done < <(grep -o 'url(fonts/[^)]*)' "$CSS_DIR/katex.min.css" | sed 's/^url(fonts\///; s/)$//' | sort -u)
    [[ $missing == 0 ]] || die "KaTeX fonts incomplete"
    # KaTeX is MIT-licensed: its licence travels with the fonts into the built book.
    cp "$tmp/package/LICENSE" "$SRC_DIR/LICENSE"
    echo "katex@$KATEX_VERSION" > "$STAMP"
    say "KaTeX $KATEX_VERSION: CSS -> book/theme/katex/, $(find "$FONT_DIR" -type f | wc -l) font files -> book/src/theme/katex/fonts/"
}

# The browser check (.ci/check-book-browser.sh) drives Debian's Chromium through
# playwright-core, whose version and sha512 are pinned in .ci/browser/package-lock.json.
install_browser() {
    if command -v chromium >/dev/null; then
        say "chromium already installed ($(chromium --version 2>/dev/null | head -n 1)), skipping"
    else
        command -v apt-get >/dev/null || die "chromium is needed for the browser check, and there is no apt-get"
        say "installing Debian's chromium (apt-get)"
        local sudo=""
        [[ $(id -u) == 0 ]] || sudo=sudo
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
        command -v chromium >/dev/null || die "apt-get installed no chromium"
    fi
    local dir="$ROOT/.ci/browser" want have
    want=$(grep -oE '"playwright-core": "[0-9.]+"' "$dir/package.json" | grep -oE '[0-9.]+[0-9]')
    have=$(grep -oE '"version": "[0-9.]+"' "$dir/node_modules/playwright-core/package.json" 2>/dev/null | grep -oE '[0-9.]+[0-9]' || true)
    if [[ "$have" == "$want" ]]; then
        say "playwright-core $want already in .ci/browser/node_modules, skipping"
        return
    fi
    command -v npm >/dev/null || die "npm is needed to install playwright-core@$want"
    say "installing playwright-core@$want into .ci/browser/node_modules (npm ci)"
    (cd "$dir" && npm ci --silent --no-audit --no-fund)
}

command -v cargo >/dev/null || die "cargo is needed (rustup.rs)"
install_crate mdbook "$MDBOOK_VERSION"
install_crate mdbook-katex "$MDBOOK_KATEX_VERSION"
install_katex_assets
install_browser
say "done; build with .ci/check-book.sh, or serve with: .tools/bin/mdbook serve book"

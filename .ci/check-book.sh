#!/usr/bin/env bash
# shellcheck disable=SC2001 # sed prefixes every line of a multi-line list of hits
# Builds the book with the pinned tools (.ci/install-book-tools.sh) and fails if
#   1. an {{#include}} / {{#rustdoc_include}} in book/src names a missing file, a missing
#      anchor or a line range past the end of the file (mdbook renders an empty block for a
#      missing anchor and only logs a missing file, exiting 0 either way);
#   2. mdbook exits non-zero or logs an ERROR or WARN line (a formula KaTeX cannot parse is
#      logged, not fatal);
#   3. the math was not rendered at build time (no KaTeX markup in activation.html, or a
#      katex-error span anywhere);
#   4. a built page or stylesheet loads anything over the network (a CDN stylesheet, font or
#      script, MathJax), or the installed KaTeX stylesheet is not linked, names a font that
#      is not in the output, or is not the KaTeX version mdbook-katex renders with.
# Prints every problem it finds, then exits 1 if there was any.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BOOK="$ROOT/book"
SRC="$BOOK/src"
OUT="$BOOK/book"
MDBOOK="$ROOT/.tools/bin/mdbook"
MDBOOK_KATEX="$ROOT/.tools/bin/mdbook-katex"
KATEX_CSS="$BOOK/theme/katex/katex.min.css"

problems=0
say() { printf 'check-book: %s\n' "$*"; }
problem() { printf 'check-book: FAIL: %s\n' "$*" >&2; problems=$((problems + 1)); }

for exe in "$MDBOOK" "$MDBOOK_KATEX"; do
    [[ -x "$exe" ]] || { problem "${exe#"$ROOT"/} is missing: run .ci/install-book-tools.sh"; }
done
[[ -f "$KATEX_CSS" ]] || problem "${KATEX_CSS#"$ROOT"/} is missing: run .ci/install-book-tools.sh"
[[ $problems == 0 ]] || exit 1

# --- 1. includes --------------------------------------------------------------------------
# mdbook's link syntax: {{#include path}}, {{#include path:anchor}}, {{#include path:N}},
# {{#include path:N:M}}, {{#include path:N:}}, {{#include path::M}}; a leading backslash
# escapes it. Paths are relative to the including .md file. Anchors are the lines
# `ANCHOR: name` and `ANCHOR_END: name` (mdbook matches the name as [\w-]+).
say "checking {{#include}} links in book/src"
n_includes=0
while IFS= read -r -d '' md; do
    rel_md=${md#"$ROOT"/}
    while IFS= read -r hit; do
        lineno=${hit%%:*}
        link=${hit#*:}
        [[ $link == \\* ]] && continue # escaped: \{{#include ...}}
        n_includes=$((n_includes + 1))
        arg=$(sed -E 's/^\{\{#(rustdoc_)?include[[:space:]]+//; s/[[:space:]]*\}\}$//' <<<"$link")
        path=${arg%%:*}
        spec=""
        [[ $arg == *:* ]] && spec=${arg#*:}
        target="$(dirname "$md")/$path"
        where="$rel_md:$lineno: $link"
        if [[ ! -f $target ]]; then
            problem "$where: file $path not found (looked for ${target#"$ROOT"/})"
            continue
        fi
        nlines=$(wc -l <"$target")
        if [[ -z $spec ]]; then
            continue
        elif [[ $spec =~ ^([0-9]*)(:([0-9]*))?$ ]]; then
            first=${BASH_REMATCH[1]}
            last=${BASH_REMATCH[3]}
            [[ -z ${BASH_REMATCH[2]} ]] && last=$first # path:N is the single line N
            if [[ -n $first ]] && ((first < 1 || first > nlines)); then
                problem "$where: line $first is outside $path (1..$nlines)"
            fi
            if [[ -n $last ]] && ((last > nlines)); then
                problem "$where: line $last is past the end of $path ($nlines lines)"
            fi
            if [[ -n $first && -n $last ]] && ((last < first)); then
                problem "$where: empty line range $first:$last"
            fi
        elif [[ $spec =~ ^[A-Za-z0-9_-]+$ ]]; then
            start=$(grep -nE "ANCHOR:[[:space:]]*$spec([^A-Za-z0-9_-]|$)" "$target" | head -n 1 | cut -d: -f1 || true)
            end=$(grep -nE "ANCHOR_END:[[:space:]]*$spec([^A-Za-z0-9_-]|$)" "$target" | head -n 1 | cut -d: -f1 || true)
            if [[ -z $start ]]; then
                problem "$where: no line 'ANCHOR: $spec' in $path"
            elif [[ -z $end ]]; then
                problem "$where: 'ANCHOR: $spec' at $path:$start has no 'ANCHOR_END: $spec'"
            elif ((end <= start + 1)); then
                problem "$where: anchor $spec in $path ($start..$end) is empty or reversed"
            fi
        else
            problem "$where: cannot parse '$spec' as an anchor name or a line range"
        fi
    done < <(grep -noE '\\?\{\{#(rustdoc_)?include[[:space:]][^}]*\}\}' "$md" || true)
done < <(find "$SRC" -name '*.md' -print0 | sort -z)
say "$n_includes include(s) checked"

# --- 2. build -----------------------------------------------------------------------------
say "building: .tools/bin/mdbook build book"
rm -rf "$OUT"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
build_rc=0
NO_COLOR=1 "$MDBOOK" build "$BOOK" >"$log" 2>&1 || build_rc=$?
sed -E 's/\x1b\[[0-9;]*m//g; s/^/  | /' "$log"
if [[ $build_rc != 0 ]]; then
    problem "mdbook build exited with status $build_rc"
    exit 1
fi
if grep -qE '(^|[[:space:]])(ERROR|WARN)([[:space:]]|$)' <(sed -E 's/\x1b\[[0-9;]*m//g' "$log"); then
    problem "mdbook build logged errors or warnings (above)"
fi

# --- 3. math rendered at build time -------------------------------------------------------
say "checking that math was rendered at build time"
if [[ ! -f $OUT/activation.html ]]; then
    problem "book/book/activation.html was not built"
elif ! grep -q 'class="katex"' "$OUT/activation.html"; then
    problem "book/book/activation.html has no KaTeX markup (class=\"katex\"): math was not rendered"
fi
if errs=$(grep -rl --include='*.html' 'katex-error' "$OUT"); then
    problem "KaTeX could not render a formula in: $(tr '\n' ' ' <<<"$errs")"
fi

# --- 4. offline: nothing loaded from the network ------------------------------------------
say "checking that no page loads anything from the network"
# Loads, not links: <script src>, <link href> (stylesheets, preloads, icons), <img>/<source>/
# <iframe> src, and url()/@import in stylesheets. Plain <a href="https://..."> is navigation.
if hits=$(grep -rnoiE --include='*.html' \
    '<(script|img|iframe|source|audio|video|embed)[^>]*[[:space:]]src="(https?:)?//[^"]*"|<link[^>]*[[:space:]]href="(https?:)?//[^"]*"' \
    "$OUT"); then
    problem "pages load external resources:"
    sed "s|^$OUT/|  book/book/|" <<<"$hits" | head -n 20 >&2
fi
if hits=$(grep -rnoiE --include='*.css' 'url\([[:space:]]*["'\'']?(https?:)?//[^)]*\)|@import[^;]*' "$OUT"); then
    problem "stylesheets load external resources:"
    sed "s|^$OUT/|  book/book/|" <<<"$hits" | head -n 20 >&2
fi
if hits=$(grep -rliE --include='*.html' '<script[^>]*mathjax|MathJax\.Hub|window\.MathJax' "$OUT"); then
    problem "pages load or configure MathJax: $(tr '\n' ' ' <<<"$hits")"
fi

# The installed stylesheet is linked, complete and of the renderer's KaTeX version.
css_rel=$(grep -oE 'theme/katex/katex(-[0-9a-f]+)?\.min\.css' "$OUT/activation.html" 2>/dev/null | head -n 1 || true)
if [[ -z $css_rel ]]; then
    problem "activation.html does not link the installed KaTeX stylesheet (theme/katex/katex*.min.css)"
elif [[ ! -f $OUT/$css_rel ]]; then
    problem "activation.html links $css_rel, which is not in book/book"
else
    css_dir=$(dirname "$OUT/$css_rel")
    n_fonts=0
    while IFS= read -r font; do
        n_fonts=$((n_fonts + 1))
        [[ -f $css_dir/$font ]] || problem "$css_rel names $font, not in book/book/${css_dir#"$OUT"/}"
    done < <(grep -oE 'url\([^)]*\)' "$OUT/$css_rel" | sed -E 's/^url\(["'\'']?//; s/["'\'']?\)$//' | sort -u)
    ((n_fonts > 0)) || problem "$css_rel names no fonts: is it KaTeX's stylesheet?"
    css_version=$(grep -oE 'katex-version:after\{content:"[0-9.]+"' "$OUT/$css_rel" | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' || true)
    # mdbook-katex embeds katex.min.js, which carries its version as version:"X.Y.Z".
    js_version=$(grep -aoE 'version:"0\.[0-9]+\.[0-9]+"' "$MDBOOK_KATEX" | head -n 1 | grep -oE '[0-9.]+[0-9]' || true)
    if [[ -z $css_version || -z $js_version ]]; then
        problem "cannot read the KaTeX version (stylesheet: '${css_version}', mdbook-katex: '${js_version}')"
    elif [[ $css_version != "$js_version" ]]; then
        problem "KaTeX stylesheet is $css_version but mdbook-katex renders with KaTeX $js_version"
    else
        say "KaTeX $css_version: stylesheet $css_rel, $n_fonts font files present"
    fi
fi

if ((problems > 0)); then
    say "$problems problem(s)"
    exit 1
fi
say "ok: book/book built, includes resolve, math rendered, nothing loaded from the network"

// Loads every chapter of the built book in headless Chromium and checks what a reader sees:
//   1. the math is rendered: KaTeX markup is on the page, no katex-error, no raw TeX ($$,
//      \frac, ...) in the prose, and the KaTeX fonts were loaded;
//   2. every image loads (complete, with a non-zero natural size) and no response is an error;
//   3. no request leaves the machine: every request goes to the local server, anything else
//      is recorded, aborted, and fails the check;
//   4. no script error on the page;
//   5. a verdict line's "evidence" link unfolds the evidence it points to.
// It prints, per chapter, the height of the page above its first rendered formula and above
// its first displayed equation at a 1400 px wide window: a reader should meet the first
// equation within a screen, not nine.
//
// Usage: node check.mjs <base URL of the local server> <SUMMARY.md> <chromium executable>
// (.ci/check-book-browser.sh serves book/book and passes these). Exits 1 on any problem.
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const [base, summaryPath, executablePath] = process.argv.slice(2);
if (!base || !summaryPath || !executablePath) {
  console.error("usage: node check.mjs <base URL> <SUMMARY.md> <chromium executable>");
  process.exit(2);
}
const origin = new URL(base).origin;

// Every chapter SUMMARY.md links, in order, as the built page's name.
const chapters = [...readFileSync(summaryPath, "utf8").matchAll(/\]\(([^)#]+)\.md\)/g)].map(
  (m) => `${m[1]}.html`,
);
if (chapters.length === 0) {
  console.error(`check-book-browser: no chapters found in ${summaryPath}`);
  process.exit(2);
}

const problems = [];
const problem = (page, what) => problems.push(`${page}: ${what}`);

const browser = await chromium.launch({
  executablePath,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-domain-reliability",
    "--disable-sync",
  ],
});
const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
let current = "(start)";
// Every request passes through here: the local server's are let through, the rest are
// recorded and never sent.
await context.route("**/*", (route) => {
  const url = route.request().url();
  if (url.startsWith("data:") || url.startsWith("blob:") || new URL(url).origin === origin) {
    return route.continue();
  }
  problem(current, `request to another host: ${url}`);
  return route.abort("blockedbyclient");
});

const heights = [];
for (const name of chapters) {
  current = name;
  const page = await context.newPage();
  page.on("pageerror", (e) => problem(name, `script error: ${e.message}`));
  page.on("response", (r) => {
    if (r.status() >= 400) problem(name, `HTTP ${r.status()} for ${r.url()}`);
  });
  page.on("requestfailed", (r) => {
    const f = r.failure();
    if (f && !f.errorText.startsWith("net::ERR_BLOCKED_BY_CLIENT")) {
      problem(name, `request failed (${f.errorText}): ${r.url()}`);
    }
  });
  const response = await page.goto(`${base}/${name}`, { waitUntil: "load" });
  if (!response || !response.ok()) {
    problem(name, `did not load (${response ? response.status() : "no response"})`);
    await page.close();
    continue;
  }
  // Fonts and images are part of "load"; fonts referenced from CSS may finish later.
  await page.evaluate(() => document.fonts.ready);
  const seen = await page.evaluate(() => {
    const main = document.querySelector("main") ?? document.body;
    const katex = main.querySelectorAll(".katex");
    const top = (el) => (el ? Math.round(el.getBoundingClientRect().top + window.scrollY) : null);
    // The prose without code, math and the folded evidence's summaries: raw TeX there means
    // a formula was not rendered.
    const prose = main.cloneNode(true);
    for (const el of prose.querySelectorAll("pre, code, .katex, script, style")) el.remove();
    const raw = prose.textContent.match(/\$\$|\\(frac|sum|partial|mathrm|qquad|begin)\b/);
    const images = [...main.querySelectorAll("img")].map((img) => ({
      src: img.getAttribute("src"),
      ok: img.complete && img.naturalWidth > 0 && img.naturalHeight > 0,
    }));
    return {
      katex: katex.length,
      errors: main.querySelectorAll(".katex-error").length,
      raw: raw ? raw[0] : null,
      fontLoaded: document.fonts.check("16px KaTeX_Main"),
      firstMath: top(katex[0]),
      firstDisplay: top(main.querySelector(".katex-display")),
      pageHeight: document.documentElement.scrollHeight,
      images,
    };
  });
  if (seen.errors > 0) problem(name, `${seen.errors} formula(s) KaTeX could not render`);
  if (seen.raw) problem(name, `unrendered TeX in the prose: ${seen.raw}`);
  if (seen.katex > 0 && !seen.fontLoaded) problem(name, "the KaTeX fonts did not load");
  for (const img of seen.images) {
    if (!img.ok) problem(name, `image did not load: ${img.src}`);
  }
  // A verdict line's "evidence" link must land on its evidence unfolded.
  const link = await page.$('p.verdict a[href^="#evidence-"]');
  if (link) {
    const target = (await link.getAttribute("href")).slice(1);
    await link.click();
    const opened = await page
      .waitForFunction((id) => document.getElementById(id)?.open === true, target, { timeout: 2000 })
      .then(() => true, () => false);
    if (!opened) problem(name, `the link to #${target} does not unfold its evidence`);
  }
  heights.push({ name, ...seen });
  await page.close();
}
await browser.close();

const pad = (s, n) => String(s).padEnd(n);
console.log("px above the first formula (inline or displayed) and the first displayed equation, at 1400 px wide:");
console.log(`${pad("chapter", 20)}${pad("formulas", 10)}${pad("images", 8)}${pad("first formula", 15)}${pad("first display", 15)}page height`);
const px = (v) => (v === null ? "none" : `${v}`);
for (const h of heights) {
  console.log(
    `${pad(h.name, 20)}${pad(h.katex, 10)}${pad(h.images.length, 8)}${pad(px(h.firstMath), 15)}${pad(px(h.firstDisplay), 15)}${h.pageHeight}`,
  );
}
// The chapters are math: each must show some. (The introduction and the appendices may not.)
for (const h of heights) {
  if (h.katex === 0 && !/^(introduction|index|catalogue|conventions|your_own)\.html$/.test(h.name)) {
    problem(h.name, "no rendered equation at all");
  }
}
if (problems.length > 0) {
  for (const p of problems) console.error(`check-book-browser: FAIL: ${p}`);
  console.error(`check-book-browser: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log(`check-book-browser: ok: ${heights.length} pages loaded offline, math rendered, every image loaded`);

#!/usr/bin/env node
// tests/observe/browser.mjs: drives the machine's Chromium through the `taylordash serve` dashboard.
//
//   node tests/observe/browser.mjs <base-url> <screenshot.png>
//
// 1. opens <base-url>/ and waits until every [data-kpi] tile shows a .kpi-value and a .kpi-target;
//    prints {"event":"loaded","kpis":{"<key>":{"value":"…","target":"…"}}}
// 2. saves a full-page screenshot to <screenshot.png>
// 3. prints {"event":"ready"}, then reads run ids from stdin, one a line; for each it waits (no reload)
//    up to 10 s until the page's text contains the id: {"event":"seen","run":"…","ms":N},
//    or {"event":"timeout","run":"…"} and exit 1
// 4. on stdin EOF saves <screenshot>-live.png and exits 0.
// Any console error or uncaught exception in the page fails the check (stderr, exit 1).
// Needs `bash tests/observe/setup.sh` (playwright-core); CHROMIUM overrides /usr/bin/chromium.
import { createInterface } from "node:readline";

const [base, shot] = process.argv.slice(2);
if (!base || !shot || !/^https?:\/\//.test(base)) {
  process.stderr.write("usage: node tests/observe/browser.mjs <base-url> <screenshot.png>\n");
  process.exit(1);
}
const liveShot = /\.png$/i.test(shot) ? shot.replace(/\.png$/i, "-live.png") : `${shot}-live.png`;
const SEEN_TIMEOUT_MS = 10_000;
const LOAD_TIMEOUT_MS = 20_000;

let chromium;
try {
  ({ chromium } = await import("playwright-core"));
} catch (e) {
  process.stderr.write(`browser.mjs: cannot load playwright-core (run bash tests/observe/setup.sh): ${e.message}\n`);
  process.exit(1);
}

let browser = null;
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
let failing = false;
async function fail(msg) {
  if (failing) return new Promise(() => {}); // the first failure reports and exits
  failing = true;
  process.stderr.write(`browser.mjs: ${msg}\n`);
  try { await browser?.close(); } catch { /* exiting anyway */ }
  process.exit(1);
}

const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
try {
  browser = await chromium.launch({ executablePath, args: ["--no-sandbox"], headless: true });
} catch (e) {
  await fail(`cannot start Chromium at ${executablePath}: ${e.message}`);
}
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
page.on("console", (m) => {
  if (m.type() !== "error") return;
  const where = m.location()?.url ? ` (${m.location().url}:${m.location().lineNumber})` : "";
  fail(`console error in the page: ${m.text()}${where}`);
});
page.on("pageerror", (e) => fail(`uncaught exception in the page: ${e.message}`));
page.on("crash", () => fail("the page crashed"));

const url = base.replace(/\/+$/, "") + "/";
try {
  const resp = await page.goto(url, { waitUntil: "domcontentloaded", timeout: LOAD_TIMEOUT_MS });
  if (!resp || !resp.ok()) await fail(`GET ${url}: HTTP ${resp ? resp.status() : "no response"}`);
} catch (e) {
  await fail(`cannot open ${url}: ${e.message}`);
}

// 1. every KPI tile filled in
try {
  await page.waitForFunction(() => {
    const tiles = [...document.querySelectorAll("[data-kpi]")];
    const filled = (t, sel) => (t.querySelector(sel)?.textContent || "").trim() !== "";
    return tiles.length > 0 && tiles.every((t) => filled(t, ".kpi-value") && filled(t, ".kpi-target"));
  }, null, { timeout: LOAD_TIMEOUT_MS, polling: 100 });
} catch (e) {
  const n = await page.locator("[data-kpi]").count().catch(() => 0);
  await fail(`the KPI tiles did not fill in within ${LOAD_TIMEOUT_MS / 1000} s (${n} [data-kpi] tiles on the page): ${e.message.split("\n")[0]}`);
}
const kpis = await page.$$eval("[data-kpi]", (tiles) => Object.fromEntries(tiles.map((t) => [t.dataset.kpi, {
  value: t.querySelector(".kpi-value").textContent.trim(),
  target: t.querySelector(".kpi-target").textContent.trim(),
}])));
emit({ event: "loaded", kpis });

// 2. the first screenshot
try {
  await page.screenshot({ path: shot, fullPage: true });
} catch (e) {
  await fail(`cannot save the screenshot to ${shot}: ${e.message}`);
}

// 3. run ids from stdin, each must appear without a reload
emit({ event: "ready" });
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  const run = line.trim();
  if (!run) continue;
  const start = Date.now();
  try {
    await page.waitForFunction((id) => document.body.innerText.includes(id), run, { timeout: SEEN_TIMEOUT_MS, polling: 50 });
  } catch {
    emit({ event: "timeout", run });
    await fail(`run ${run} did not appear on the page within ${SEEN_TIMEOUT_MS / 1000} s`);
  }
  emit({ event: "seen", run, ms: Date.now() - start });
}

// 4. the second screenshot, after the live updates (from the top: the header is sticky)
try {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: liveShot, fullPage: true });
} catch (e) {
  await fail(`cannot save the screenshot to ${liveShot}: ${e.message}`);
}
await browser.close();
process.exit(0);

// Headless-Chromium test of the saferplaces map (maps.md §8).
//
//   APP_URL=http://127.0.0.1:8080 node test/map.test.mjs
//   SAFERPLACES_BIN=../target/debug/saferplaces node test/map.test.mjs
//
// The app comes from APP_URL, or, when that is unset, from a server this test
// starts itself: `$SAFERPLACES_BIN demo --data-dir <fresh temp dir> --addr
// 127.0.0.1:0` (default binary ../target/debug/saferplaces relative to web/;
// run in the project root with SAFERPLACES_WEB_DIR=web/dist unless set),
// whose URL is read from its "listening on http://..." stdout line.
// (stderr is scanned as well, ANSI colours stripped.)
// Chromium: $CHROME_PATH, else chromium-headless-shell, else chromium.
//
// Prints one line per check and closes with "N passed, M failed" (exit 1 on
// any failure). Screenshots go to web/test-results/.
import { execSync, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import puppeteer from "puppeteer-core";

const WEB_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const RESULTS_DIR = join(WEB_DIR, "test-results");
const SERVER_START_TIMEOUT_MS = 120_000; // demo data generation can take ~60 s
const READY_TIMEOUT_MS = 60_000;
const RELOAD_TIMEOUT_MS = 30_000;
const WATCHDOG_MS = 300_000; // the whole run, so CI never hangs
const VIEWPORT = { width: 1000, height: 700 };

// ---------------------------------------------------------------------------
// Tiny check runner

const results = [];
let aborted = null; // set when a failed step makes the rest meaningless

async function check(name, fn) {
  if (aborted) {
    results.push({ name, ok: false });
    console.log(`FAIL ${name}: not run, ${aborted}`);
    return;
  }
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`PASS ${name}`);
  } catch (err) {
    results.push({ name, ok: false });
    console.log(`FAIL ${name}: ${err.message}`);
  }
}

/** A check whose failure stops the run (e.g. the map never becomes ready). */
async function prerequisite(name, fn) {
  const before = results.length;
  await check(name, fn);
  if (!aborted && results.length > before && !results.at(-1).ok) aborted = `"${name}" failed`;
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

// ---------------------------------------------------------------------------
// Browser and server

function findChrome() {
  if (process.env.CHROME_PATH) return process.env.CHROME_PATH;
  for (const name of ["chromium-headless-shell", "chromium"]) {
    try {
      const path = execSync(`command -v ${name}`, { shell: "/bin/sh", encoding: "utf8" }).trim();
      if (path) return path;
    } catch {
      // not installed; try the next one
    }
  }
  throw new Error("no Chromium found: set CHROME_PATH or apt-get install chromium-headless-shell");
}

/** Start `saferplaces demo` on a free port; resolves to { url, stop }. */
async function startServer() {
  const bin = process.env.SAFERPLACES_BIN
    ? resolve(process.env.SAFERPLACES_BIN)
    : resolve(WEB_DIR, "../target/debug/saferplaces");
  const dataDir = await mkdtemp(join(tmpdir(), "saferplaces-web-test-"));
  // Run from the project root, where the server's relative defaults
  // (./geodata, ./web/dist) resolve, and point it at this web/dist explicitly.
  const child = spawn(bin, ["demo", "--data-dir", dataDir, "--addr", "127.0.0.1:0"], {
    cwd: resolve(WEB_DIR, ".."),
    env: { ...process.env, SAFERPLACES_WEB_DIR: process.env.SAFERPLACES_WEB_DIR ?? join(WEB_DIR, "dist") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log = []; // last lines of output, for failure messages
  const remember = (line) => {
    log.push(line);
    if (log.length > 20) log.shift();
  };

  const exited = new Promise((resolveExit) => child.once("exit", (code, signal) => resolveExit({ code, signal })));
  let stopped = false;
  const stop = async () => {
    if (!stopped) {
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dataDir, { recursive: true, force: true });
    }
  };

  try {
    const url = await new Promise((resolveUrl, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no "listening on" line from ${bin} within ${SERVER_START_TIMEOUT_MS / 1000} s`)),
        SERVER_START_TIMEOUT_MS,
      );
      child.once("error", (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot run ${bin}: ${err.message}`));
      });
      void exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`${bin} exited (${signal ?? `code ${code}`}) before listening`));
      });
      // The contract is a line on stdout; stderr is scanned too, in case the
      // line comes from a logger there (ANSI colours stripped). Both streams
      // are read to the end so the child never blocks on a full pipe.
      for (const stream of [child.stdout, child.stderr]) {
        createInterface({ input: stream }).on("line", (raw) => {
          const line = raw.replace(/\x1b\[[0-9;]*m/g, "");
          remember(line);
          const match = /listening on (http:\/\/\S+)/.exec(line);
          if (match) {
            clearTimeout(timer);
            resolveUrl(match[1]);
          }
        });
      }
    });
    return { url, stop };
  } catch (err) {
    await stop();
    const output = log.length ? `\n  last output:\n    ${log.join("\n    ")}` : " (no output)";
    throw new Error(`${err.message}${output}`);
  }
}

// ---------------------------------------------------------------------------
// Page helpers (the functions passed to page.evaluate run in the browser)

/** Rendered hexagons: feature count, unique cells, their total count, bad ids. */
function renderedHexagons() {
  const features = window.__map.queryRenderedFeatures({ layers: ["hexagons-fill"] });
  const cells = new Map(); // a cell may be drawn in several tiles: count it once
  let valid = 0;
  for (const { properties: p } of features) {
    if (typeof p.h3 === "string" && p.h3.length === 15 && typeof p.count === "number" && p.count > 0) valid += 1;
    cells.set(p.h3, p.count);
  }
  let total = 0;
  for (const count of cells.values()) total += Number(count) || 0;
  return { features: features.length, cells: cells.size, valid, total, sample: features[0]?.properties ?? null };
}

function renderedCount(layer) {
  return window.__map.queryRenderedFeatures({ layers: [layer] }).length;
}

function waitForIdle() {
  return new Promise((done) => {
    window.__map.once("idle", done);
    window.__map.triggerRepaint();
  });
}

async function pageDiagnostics(page) {
  return page
    .evaluate(() => ({
      status: document.querySelector("[role=status]")?.textContent?.trim() ?? "(no status element)",
      errors: window.__errors ?? "(window.__errors missing)",
      hasMap: Boolean(window.__map),
    }))
    .catch((err) => ({ status: `(page not reachable: ${err.message})` }));
}

// ---------------------------------------------------------------------------
// The test

async function run() {
  let server = null;
  let browser = null;
  const watchdog = setTimeout(() => {
    console.log(`FAIL whole run: watchdog fired after ${WATCHDOG_MS / 1000} s`);
    void Promise.allSettled([browser?.close(), server?.stop()]).then(() => process.exit(1));
  }, WATCHDOG_MS);
  watchdog.unref();
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.once(signal, () => {
      void Promise.allSettled([browser?.close(), server?.stop()]).then(() => process.exit(1));
    });
  }

  try {
    let appUrl = process.env.APP_URL?.replace(/\/+$/, "");
    if (!appUrl) {
      await prerequisite("server starts and prints its URL", async () => {
        server = await startServer();
        appUrl = server.url.replace(/\/+$/, "");
        console.log(`  server: ${appUrl}`);
      });
    }
    if (aborted) return;
    const origin = new URL(appUrl).origin;

    const chrome = findChrome();
    browser = await puppeteer.launch({
      executablePath: chrome,
      headless: "shell",
      args: ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
    });
    console.log(`  browser: ${chrome} (${await browser.version()})`);
    const page = await browser.newPage();
    await page.setViewport(VIEWPORT);

    // Everything the page does over the network or logs as an error.
    const requests = [];
    const failures = [];
    const consoleErrors = [];
    page.on("request", (request) => requests.push(request.url()));
    page.on("requestfailed", (request) => {
      const reason = request.failure()?.errorText ?? "failed";
      // The app aborts superseded hexagon requests on purpose.
      if (reason !== "net::ERR_ABORTED") failures.push(`${request.url()}: ${reason}`);
    });
    page.on("response", (response) => {
      if (response.status() >= 400) failures.push(`${response.url()}: HTTP ${response.status()}`);
    });
    page.on("console", (message) => {
      if (message.type() === "error") consoleErrors.push(message.text());
    });
    page.on("pageerror", (error) => consoleErrors.push(`uncaught: ${error.message}`));

    await prerequisite("the page loads", async () => {
      const response = await page.goto(`${appUrl}/`, { waitUntil: "domcontentloaded", timeout: 30_000 });
      assert(response?.ok(), `GET ${appUrl}/ answered ${response?.status()}`);
    });

    await prerequisite("the map becomes ready (window.__ready) with hexagons loaded", async () => {
      try {
        await page.waitForFunction(() => window.__ready === true, { timeout: READY_TIMEOUT_MS });
      } catch {
        const d = await pageDiagnostics(page);
        throw new Error(
          `window.__ready was not true after ${READY_TIMEOUT_MS / 1000} s; ` +
            `page status: "${d.status}"; map created: ${d.hasMap}; map errors: ${JSON.stringify(d.errors)}; ` +
            `console errors: ${JSON.stringify(consoleErrors)}; failed requests: ${JSON.stringify(failures)}`,
        );
      }
    });

    let before = null;
    await check("hexagons render with 15-character h3 ids and positive counts", async () => {
      before = await page.evaluate(renderedHexagons);
      assert(before.features > 0, "no rendered features in layer hexagons-fill");
      assert(before.valid > 0, `no hexagon with a 15-char h3 and count > 0; first: ${JSON.stringify(before.sample)}`);
      console.log(`  hexagons: ${before.cells} cells rendered, total count ${before.total}`);
    });

    await mkdir(RESULTS_DIR, { recursive: true });
    await page.screenshot({ path: join(RESULTS_DIR, "map.png") });

    for (const layer of ["places-circle", "schools-circle", "routes-line"]) {
      await check(`${layer} renders at least one feature`, async () => {
        const n = await page.evaluate(renderedCount, layer);
        assert(n >= 1, `${layer} rendered ${n} features`);
      });
    }

    await check("every form control has a label", async () => {
      const unlabelled = await page.evaluate(() =>
        [...document.querySelectorAll("input, select")]
          .filter((c) => c.labels.length === 0 && !c.getAttribute("aria-label"))
          .map((c) => c.id || c.outerHTML),
      );
      assert(unlabelled.length === 0, `unlabelled: ${unlabelled.join(", ")}`);
    });

    await check("clicking a place opens a text-only popup", async () => {
      const target = await page.evaluate(() => {
        const map = window.__map;
        const rect = map.getContainer().getBoundingClientRect();
        const margin = 60; // stay clear of the map controls at the edges
        for (const f of map.queryRenderedFeatures({ layers: ["places-circle"] })) {
          const p = map.project(f.geometry.coordinates);
          if (p.x > margin && p.x < rect.width - margin && p.y > margin && p.y < rect.height - margin) {
            return { x: rect.left + p.x, y: rect.top + p.y };
          }
        }
        return null;
      });
      assert(target, "no place far enough from the map edges to click");
      await page.mouse.click(target.x, target.y);
      await page.waitForSelector(".maplibregl-popup .popup", { timeout: 5_000 });
      const popup = await page.evaluate(() => {
        const node = document.querySelector(".maplibregl-popup .popup");
        return { text: node.textContent, markupInValues: node.querySelectorAll("dd *").length };
      });
      assert(popup.text.includes("Place of concern"), `popup text: ${popup.text}`);
      assert(popup.markupInValues === 0, "popup values contain elements (data parsed as HTML?)");
      await page.evaluate(() => document.querySelector(".maplibregl-popup-close-button")?.click());
    });

    await check("narrowing the time window to the first month changes the hexagon total", async () => {
      assert(before, "no initial hexagon total to compare with");
      const window_ = await page.evaluate(() => {
        const from = document.querySelector("#date-from");
        const to = document.querySelector("#date-to");
        const first = from.min; // data_from
        const start = new Date(`${first}T00:00:00Z`);
        const monthEnd = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 0));
        const last = monthEnd.toISOString().slice(0, 10);
        const end = to.max && to.max < last ? to.max : last;
        from.value = first;
        to.value = end;
        for (const input of [from, to]) input.dispatchEvent(new Event("change", { bubbles: true }));
        return { from: first, to: end };
      });
      try {
        await page.waitForFunction(
          (from, to) => {
            const q = new URLSearchParams(window.__hexRendered ?? "");
            return q.get("from") === from && q.get("to") === to;
          },
          { timeout: RELOAD_TIMEOUT_MS },
          window_.from,
          window_.to,
        );
      } catch {
        const d = await pageDiagnostics(page);
        throw new Error(`hexagons for ${window_.from}..${window_.to} not rendered within 30 s; status: "${d.status}"`);
      }
      await page.evaluate(waitForIdle);
      const after = await page.evaluate(renderedHexagons);
      console.log(`  first month ${window_.from}..${window_.to}: ${after.cells} cells, total count ${after.total}`);
      assert(after.total !== before.total, `total unchanged at ${after.total}`);
      await page.screenshot({ path: join(RESULTS_DIR, "map-first-month.png") });
    });

    await check("no map error events (window.__errors is empty)", async () => {
      const errors = await page.evaluate(() => window.__errors);
      assert(Array.isArray(errors) && errors.length === 0, `window.__errors = ${JSON.stringify(errors)}`);
    });

    await check("no console errors and no failed requests", async () => {
      assert(consoleErrors.length === 0, `console errors: ${JSON.stringify(consoleErrors)}`);
      assert(failures.length === 0, `failed requests: ${JSON.stringify(failures)}`);
    });

    await check("every request goes to the app's own origin", async () => {
      // data: and blob: URLs are in-page (MapLibre starts its worker from a blob).
      const foreign = requests.filter((url) => !/^(data|blob):/.test(url) && new URL(url).origin !== origin);
      assert(requests.length > 0, "no requests recorded");
      assert(foreign.length === 0, `requests to other hosts: ${JSON.stringify([...new Set(foreign)])}`);
      console.log(`  requests: ${requests.length}, all to ${origin}`);
    });
  } catch (err) {
    // Unexpected failure outside a check (e.g. the browser would not start).
    results.push({ name: "test harness", ok: false });
    console.log(`FAIL test harness: ${err.stack ?? err.message}`);
  } finally {
    await browser?.close().catch(() => {});
    await server?.stop().catch(() => {});
    clearTimeout(watchdog);
  }
}

await run();
const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 || passed === 0 ? 1 : 0;

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
// Access (safeguards.md S12, S15, S21): the demo prints one token per role
// before its "listening on" line; the test reads them from there. With
// APP_URL, set DEMO_TOKENS_JSON='{"vru_analyst":"spt_...","admin":"spt_..."}'
// to run the signed-in checks; without it they are skipped (and say why).
// Phases: public view; sign in as vru_analyst through the form; idle logout;
// a bogus token (exactly one 401, on meta); admin (no map access); sign out.
//
// Prints one line per check and closes with "N passed, M failed" (exit 1 on
// any failure). Screenshots go to web/test-results/: map.png (public),
// map-first-month.png, map-vru.png (signed in as vru_analyst).
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
const WATCHDOG_MS = 480_000; // the whole run, so CI never hangs
const ACCESS_TIMEOUT_MS = 45_000; // sign-in, sign-out: meta plus a full reload
const IDLE_LOGOUT_MS = 15 * 60 * 1000; // S15, as in src/app.js
const BOGUS_TOKEN = `spt_${"0".repeat(64)}`;
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

/**
 * Start `saferplaces demo` on a free port; resolves to { url, stop, tokens }.
 * `tokens` maps role -> token, from the lines after "demo tokens (...):"
 * and before "listening on" ("  <role padded to 15> <token>").
 */
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

  const tokens = {};
  let inTokens = false;

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
          // Never echo tokens into failure messages or logs.
          remember(line.replace(/spt_[0-9A-Za-z]+/g, "spt_…"));
          if (/^demo tokens\b/.test(line.trim())) {
            inTokens = true;
            return;
          }
          const token = inTokens && /^\s+([a-z_]+)\s+(spt_\S+)\s*$/.exec(line);
          if (token) {
            tokens[token[1]] = token[2];
            return;
          }
          const match = /listening on (http:\/\/\S+)/.exec(line);
          if (match) {
            inTokens = false;
            clearTimeout(timer);
            resolveUrl(match[1]);
          }
        });
      }
    });
    return { url, stop, tokens };
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

/**
 * Disclosure properties of the rendered hexagons, one entry per cell:
 * how many, how many suppressed, counts that break the controlled rules
 * (suppressed with a count, unsuppressed without one, not a multiple of 5
 * or below 5), and how many counts are not multiples of 5.
 * (MapLibre's tiles drop null properties: a null count reads as undefined.)
 */
function hexagonDisclosure() {
  const cells = new Map();
  for (const { properties: p } of window.__map.queryRenderedFeatures({ layers: ["hexagons-fill"] })) {
    cells.set(p.h3, p);
  }
  let suppressed = 0;
  let notMultipleOf5 = 0;
  const breaches = [];
  for (const p of cells.values()) {
    const noCount = p.count === null || p.count === undefined;
    if (noCount) {
      if (p.suppressed === true) suppressed += 1;
      else breaches.push({ ...p, why: "no count but not suppressed" });
      continue;
    }
    if (p.suppressed === true) breaches.push({ ...p, why: "suppressed but has a count" });
    if (typeof p.count !== "number") breaches.push({ ...p, why: "count is not a number" });
    else if (p.count % 5 !== 0) notMultipleOf5 += 1;
    if (typeof p.count === "number" && (p.count % 5 !== 0 || p.count < 5)) {
      breaches.push({ ...p, why: "not a multiple of 5 that is at least 5" });
    }
  }
  return { cells: cells.size, suppressed, notMultipleOf5, breaches: breaches.slice(0, 5), breachCount: breaches.length };
}

function renderedCount(layer) {
  return window.__map.getLayer(layer) ? window.__map.queryRenderedFeatures({ layers: [layer] }).length : 0;
}

/** Where to click to hit the given hexagon and nothing clickable above it, or null. */
function clickTargetOnHexagon(wantSuppressed) {
  const map = window.__map;
  const rect = map.getContainer().getBoundingClientRect();
  const margin = 60;
  const above = ["places-circle", "schools-circle", "services-circle", "stops-circle", "routes-line"].filter(
    (id) => map.getLayer(id) && map.getLayoutProperty(id, "visibility") !== "none",
  );
  for (const f of map.queryRenderedFeatures({ layers: ["hexagons-fill"] })) {
    if ((f.properties.suppressed === true) !== wantSuppressed) continue;
    const ring = f.geometry.type === "Polygon" ? f.geometry.coordinates[0] : null;
    if (!ring) continue;
    const pts = ring.slice(0, -1);
    const lng = pts.reduce((a, c) => a + c[0], 0) / pts.length;
    const lat = pts.reduce((a, c) => a + c[1], 0) / pts.length;
    const p = map.project([lng, lat]);
    if (p.x < margin || p.x > rect.width - margin || p.y < margin || p.y > rect.height - margin) continue;
    const box = [
      [p.x - 6, p.y - 6],
      [p.x + 6, p.y + 6],
    ];
    if (map.queryRenderedFeatures(box, { layers: above }).length) continue;
    const top = map.queryRenderedFeatures([p.x, p.y], { layers: ["hexagons-fill"] })[0];
    if (top?.properties.h3 !== f.properties.h3) continue;
    return { x: rect.left + p.x, y: rect.top + p.y, h3: f.properties.h3 };
  }
  return null;
}

/** A snapshot of what the page says about access. */
function accessState() {
  return {
    access: window.__access,
    caller: window.__caller,
    changes: window.__accessChanges ?? 0,
    ready: window.__ready === true,
    status: document.querySelector("#status")?.textContent ?? "",
    signOutEnabled: !document.querySelector("#sign-out")?.disabled,
    layerToggles: [...document.querySelectorAll("#layer-list input")].map((i) => i.id),
    legend: document.querySelector(".legend")?.textContent ?? "",
    effectiveWindow: document.querySelector("#effective-window")?.textContent ?? "",
    tokenInput: document.querySelector("#token")?.value ?? "",
    stored: Object.fromEntries(Object.keys(sessionStorage).map((k) => [k, sessionStorage.getItem(k)])),
    local: Object.values(localStorage),
    href: location.href,
  };
}

function waitForIdle() {
  return new Promise((done) => {
    window.__map.once("idle", done);
    window.__map.triggerRepaint();
  });
}

/**
 * Wait until access has changed since `changesBefore` and settled: "ok" with
 * the given role and the map ready, or "denied".
 */
async function waitForAccess(page, changesBefore, want) {
  try {
    await page.waitForFunction(
      (before, wanted) => {
        if ((window.__accessChanges ?? 0) <= before) return false;
        if (wanted === "denied") return window.__access === "denied";
        return window.__access === "ok" && window.__caller?.role === wanted && window.__ready === true;
      },
      { timeout: ACCESS_TIMEOUT_MS },
      changesBefore,
      want,
    );
  } catch {
    const d = await pageDiagnostics(page);
    const state = await page.evaluate(() => ({ access: window.__access, role: window.__caller?.role })).catch(() => ({}));
    throw new Error(
      `access did not settle as ${want} within ${ACCESS_TIMEOUT_MS / 1000} s; ` +
        `access ${state.access}, role ${state.role}; status: "${d.status}"`,
    );
  }
}

/** Type a token into the form and press "Use token", like a user. */
async function signInThroughForm(page, token) {
  const before = await page.evaluate(() => window.__accessChanges ?? 0);
  await page.click("#token", { count: 3 });
  await page.keyboard.press("Backspace");
  await page.type("#token", token);
  await page.click("#use-token");
  return before;
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
    let tokens = {}; // role -> demo token
    if (!appUrl) {
      await prerequisite("server starts and prints its URL", async () => {
        server = await startServer();
        appUrl = server.url.replace(/\/+$/, "");
        tokens = server.tokens;
        console.log(`  server: ${appUrl}; demo tokens for: ${Object.keys(tokens).join(", ") || "none"}`);
      });
    } else if (process.env.DEMO_TOKENS_JSON) {
      await prerequisite("DEMO_TOKENS_JSON is a JSON object of role -> token", async () => {
        const parsed = JSON.parse(process.env.DEMO_TOKENS_JSON);
        assert(parsed && typeof parsed === "object" && !Array.isArray(parsed), "not a JSON object");
        tokens = Object.fromEntries(Object.entries(parsed).filter(([, t]) => typeof t === "string" && t));
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

    // Everything the page does over the network or logs as an error, tagged
    // with the phase of the test it happened in.
    let phase = "public";
    const requests = []; // { url, phase }
    const failures = []; // { url, what, status, phase }
    const consoleErrors = []; // { text, url, phase }
    page.on("request", (request) => requests.push({ url: request.url(), phase }));
    page.on("requestfailed", (request) => {
      const reason = request.failure()?.errorText ?? "failed";
      // The app aborts superseded requests (and all requests on a change of access) on purpose.
      if (reason !== "net::ERR_ABORTED") failures.push({ url: request.url(), what: reason, phase });
    });
    page.on("response", (response) => {
      if (response.status() >= 400) {
        failures.push({ url: response.url(), what: `HTTP ${response.status()}`, status: response.status(), phase });
      }
    });
    page.on("console", (message) => {
      if (message.type() === "error") consoleErrors.push({ text: message.text(), url: message.location()?.url, phase });
    });
    page.on("pageerror", (error) => consoleErrors.push({ text: `uncaught: ${error.message}`, phase }));

    const apiPath = (url) => {
      try {
        return new URL(url).pathname;
      } catch {
        return "";
      }
    };
    const isPlaceLevel = (url) => /^\/api\/v1\/(places|incidents)(\/|$)/.test(apiPath(url));
    const inPhase = (list, name) => list.filter((r) => r.phase === name);
    // 4xx the test provokes on purpose: one per phase, on /api/v1/meta.
    const allowed = []; // { phase, status }
    const expectedFailure = (f) =>
      allowed.some((a) => a.phase === f.phase && a.status === f.status && apiPath(f.url) === "/api/v1/meta");

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

    // --- public view ----------------------------------------------------------

    await check("public: the app starts in the public view and says so", async () => {
      const s = await page.evaluate(accessState);
      assert(s.access === "ok" && s.caller?.role === "public", `access ${s.access}, caller ${JSON.stringify(s.caller)}`);
      assert(
        s.status.includes("Public view") && s.status.includes("disclosure-controlled"),
        `status: "${s.status}"`,
      );
      assert(!s.signOutEnabled, "Sign out is enabled without a token");
    });

    let before = null;
    await check("hexagons render with 15-character h3 ids and positive counts", async () => {
      before = await page.evaluate(renderedHexagons);
      assert(before.features > 0, "no rendered features in layer hexagons-fill");
      assert(before.valid > 0, `no hexagon with a 15-char h3 and count > 0; first: ${JSON.stringify(before.sample)}`);
      console.log(`  hexagons: ${before.cells} cells rendered, total count ${before.total}`);
    });

    await check("public: every hexagon count is suppressed (null) or a multiple of 5 that is at least 5", async () => {
      const d = await page.evaluate(hexagonDisclosure);
      assert(d.cells > 0, "no hexagons rendered");
      assert(d.breachCount === 0, `${d.breachCount} cells break the rule, e.g. ${JSON.stringify(d.breaches)}`);
      console.log(`  public: ${d.cells} cells, ${d.suppressed} suppressed`);
    });

    await check("public: the legend explains suppression and the whole-month window is shown", async () => {
      const s = await page.evaluate(accessState);
      assert(/Suppressed \(fewer than \d+\)/.test(s.legend), `legend: "${s.legend.trim()}"`);
      assert(/^Shown: .+ – .+\(whole months\)$/.test(s.effectiveWindow.trim()), `window: "${s.effectiveWindow}"`);
    });

    await mkdir(RESULTS_DIR, { recursive: true });
    await page.screenshot({ path: join(RESULTS_DIR, "map.png") });

    await check("public: places of concern are neither offered nor requested", async () => {
      const s = await page.evaluate(accessState);
      assert(!s.caller.layers.includes("places"), `caller.layers: ${s.caller.layers}`);
      assert(!s.layerToggles.includes("toggle-places-circle"), `layer switcher: ${s.layerToggles}`);
      const n = await page.evaluate(renderedCount, "places-circle");
      assert(n === 0, `places-circle rendered ${n} features`);
      const asked = requests.filter((r) => isPlaceLevel(r.url)).map((r) => r.url);
      assert(asked.length === 0, `place-level requests: ${JSON.stringify(asked)}`);
    });

    for (const layer of ["schools-circle", "routes-line"]) {
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

    await check("the token input is a labelled password field; its buttons take keyboard focus", async () => {
      const info = await page.evaluate(() => {
        const input = document.querySelector("#token");
        return {
          type: input?.type,
          label: input?.labels?.[0]?.textContent?.trim(),
          buttons: [...document.querySelectorAll("#signin button")].map((b) => b.textContent.trim()),
        };
      });
      assert(info.type === "password", `#token type is ${info.type}`);
      assert(info.label === "Access token", `#token label is "${info.label}"`);
      assert(
        info.buttons.includes("Use token") && info.buttons.includes("Sign out"),
        `buttons: ${JSON.stringify(info.buttons)}`,
      );
      await page.focus("#token");
      await page.keyboard.press("Tab");
      const focused = await page.evaluate(() => ({
        id: document.activeElement?.id,
        outline: getComputedStyle(document.activeElement).outlineStyle,
      }));
      assert(focused.id === "use-token", `Tab from the token input focused #${focused.id}`);
      assert(focused.outline !== "none", "no visible focus outline on Use token");
    });

    await check("public: clicking a suppressed hexagon shows “suppressed” in its popup", async () => {
      const target = await page.evaluate(clickTargetOnHexagon, true);
      assert(target, "no suppressed hexagon clear of other features to click");
      await page.mouse.click(target.x, target.y);
      await page.waitForSelector(".maplibregl-popup .popup", { timeout: 5_000 });
      const text = await page.evaluate(() => document.querySelector(".maplibregl-popup .popup").textContent);
      assert(/Incidents\s*suppressed/.test(text), `popup for ${target.h3}: ${text}`);
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

    // --- signed in ------------------------------------------------------------

    const missing = (role) =>
      server
        ? `the server printed no ${role} token (printed: ${Object.keys(tokens).join(", ") || "none"})`
        : `APP_URL is set and DEMO_TOKENS_JSON ${process.env.DEMO_TOKENS_JSON ? `has no ${role}` : "is not set"}`;
    const section = async (role, fn) => {
      if (aborted) return;
      if (!tokens[role]) {
        console.log(`SKIP signed-in checks as ${role}: ${missing(role)}`);
        return;
      }
      await fn(tokens[role]);
    };

    await section("vru_analyst", async (token) => {
      phase = "vru_analyst";
      await prerequisite("vru_analyst: signing in through the form shows the analyst's map", async () => {
        const changes = await signInThroughForm(page, token);
        await waitForAccess(page, changes, "vru_analyst");
      });
      if (aborted) return;

      await check("vru_analyst: the status names the user; the token is in sessionStorage only", async () => {
        const s = await page.evaluate(accessState);
        const name = s.caller?.name;
        assert(name, `caller has no name: ${JSON.stringify(s.caller)}`);
        assert(s.status.includes(`Signed in as ${name} (vru_analyst)`), `status: "${s.status}"`);
        assert(s.signOutEnabled, "Sign out is not enabled");
        assert(s.tokenInput === "", "the token is still in the input");
        assert(Object.values(s.stored).includes(token), "token not in sessionStorage");
        assert(!s.local.some((v) => v.includes(token)), "token in localStorage");
        assert(!s.href.includes(token), "token in the URL");
      });

      await check("vru_analyst: the places layer is offered and renders at least one feature", async () => {
        const s = await page.evaluate(accessState);
        assert(s.layerToggles.includes("toggle-places-circle"), `layer switcher: ${s.layerToggles}`);
        const n = await page.evaluate(renderedCount, "places-circle");
        assert(n >= 1, `places-circle rendered ${n} features`);
      });

      await check("vru_analyst: the “Last 90 days” preset reloads the hexagons (same window as map.png)", async () => {
        await page.click('[data-preset="90d"]');
        try {
          await page.waitForFunction(
            () => {
              const q = new URLSearchParams(window.__hexRendered ?? "");
              return (
                q.get("from") === document.querySelector("#date-from").value &&
                q.get("to") === document.querySelector("#date-to").value
              );
            },
            { timeout: RELOAD_TIMEOUT_MS },
          );
        } catch {
          const d = await pageDiagnostics(page);
          throw new Error(`hexagons for the last 90 days not rendered within 30 s; status: "${d.status}"`);
        }
        await page.evaluate(waitForIdle);
      });

      await check("vru_analyst: hexagon counts are exact (none suppressed, not all multiples of 5)", async () => {
        const d = await page.evaluate(hexagonDisclosure);
        const s = await page.evaluate(accessState);
        assert(d.cells > 0, "no hexagons rendered");
        assert(d.suppressed === 0, `${d.suppressed} suppressed cells`);
        assert(d.notMultipleOf5 > 0, `all ${d.cells} counts are multiples of 5`);
        assert(!/Suppressed \(fewer than/.test(s.legend), "the legend still mentions suppression");
        assert(s.effectiveWindow.trim() === "", `whole-month note still shown: "${s.effectiveWindow}"`);
        console.log(`  vru_analyst: ${d.cells} cells, ${d.notMultipleOf5} counts not a multiple of 5`);
      });

      await page.screenshot({ path: join(RESULTS_DIR, "map-vru.png") });

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
      });

      await check("vru_analyst: no sign-out before 15 minutes idle; then back to the public view", async () => {
        const early = await page.evaluate((ms) => {
          window.__idleCheck(Date.now() + ms);
          return window.__access === "ok" && window.__caller?.role === "vru_analyst";
        }, IDLE_LOGOUT_MS - 60_000);
        assert(early, "signed out before the idle timeout");
        phase = "idle";
        const changes = await page.evaluate((ms) => {
          const n = window.__accessChanges ?? 0;
          window.__idleCheck(Date.now() + ms);
          return n;
        }, IDLE_LOGOUT_MS + 1_000);
        await waitForAccess(page, changes, "public");
        const s = await page.evaluate(accessState);
        assert(!Object.values(s.stored).includes(token), "token still in sessionStorage");
        assert(!s.layerToggles.includes("toggle-places-circle"), "places still offered");
        const places = await page.evaluate(() => window.__map.querySourceFeatures("places").length);
        assert(places === 0, `${places} place features still loaded`);
        const popup = await page.evaluate(() => Boolean(document.querySelector(".maplibregl-popup")));
        assert(!popup, "a popup is still open");
        assert(/Signed out after 15 minutes/.test(s.status), `status: "${s.status}"`);
        assert(s.status.includes("Public view"), `status: "${s.status}"`);
      });
    });

    // --- a bogus token --------------------------------------------------------

    if (!aborted) {
      phase = "bogus";
      allowed.push({ phase: "bogus", status: 401 });
      await check("bogus token: an error is shown and the app falls back to public with one 401 (meta)", async () => {
        const changes = await signInThroughForm(page, BOGUS_TOKEN);
        await waitForAccess(page, changes, "public");
        const s = await page.evaluate(accessState);
        const shown = await page.evaluate(() => {
          const node = document.querySelector("#status .status-error");
          return node ? { text: node.textContent, visible: node.getClientRects().length > 0 } : null;
        });
        assert(shown?.visible && /not accepted/.test(shown.text), `status: "${s.status}"`);
        assert(s.status.includes("Public view"), `status: "${s.status}"`);
        assert(!Object.values(s.stored).includes(BOGUS_TOKEN), "the rejected token is still stored");
        const mine = inPhase(failures, "bogus");
        const meta401 = mine.filter((f) => f.status === 401 && apiPath(f.url) === "/api/v1/meta");
        assert(meta401.length === 1, `expected exactly one 401 on /api/v1/meta, got ${meta401.length}`);
        assert(mine.length === 1, `other failures: ${JSON.stringify(mine.map((f) => `${f.url}: ${f.what}`))}`);
      });
    }

    // --- admin: no map access -------------------------------------------------

    await section("admin", async (token) => {
      phase = "admin";
      allowed.push({ phase: "admin", status: 403 });
      await check("admin: a clear “no map access” message and no data requests beyond meta", async () => {
        const changes = await signInThroughForm(page, token);
        await waitForAccess(page, changes, "denied");
        await new Promise((r) => setTimeout(r, 1_000)); // let any stray request show up
        const s = await page.evaluate(accessState);
        assert(/no map access/i.test(s.status), `status: "${s.status}"`);
        assert(s.signOutEnabled, "Sign out is not offered");
        assert(s.layerToggles.length === 0, `layers still offered: ${s.layerToggles}`);
        const api = inPhase(requests, "admin").filter((r) => apiPath(r.url).startsWith("/api/"));
        const data = api.filter((r) => apiPath(r.url) !== "/api/v1/meta");
        assert(data.length === 0, `data requests: ${JSON.stringify(data.map((r) => r.url))}`);
        assert(api.length === 1, `${api.length} meta requests`);
        const hex = await page.evaluate(renderedHexagons);
        assert(hex.features === 0, `${hex.features} hexagons still drawn`);
        const mine = inPhase(failures, "admin").filter((f) => !expectedFailure(f));
        assert(mine.length === 0, `failures: ${JSON.stringify(mine.map((f) => `${f.url}: ${f.what}`))}`);
      });

      phase = "signed-out";
      await check("signing out returns to the public view", async () => {
        const changes = await page.evaluate(() => window.__accessChanges ?? 0);
        await page.click("#sign-out");
        await waitForAccess(page, changes, "public");
        const s = await page.evaluate(accessState);
        assert(s.status.includes("Public view"), `status: "${s.status}"`);
        assert(!s.signOutEnabled, "Sign out still enabled");
        assert(Object.keys(s.stored).length === 0, `sessionStorage: ${Object.keys(s.stored)}`);
        const hex = await page.evaluate(renderedHexagons);
        assert(hex.features > 0, "no hexagons after signing out");
      });
    });

    // --- whole run ------------------------------------------------------------

    await check("no place-level request while not signed in as a place-level role", async () => {
      const asked = requests.filter((r) => r.phase !== "vru_analyst" && isPlaceLevel(r.url));
      assert(asked.length === 0, `requests: ${JSON.stringify(asked.map((r) => `${r.phase}: ${r.url}`))}`);
    });

    await check("no map error events (window.__errors is empty)", async () => {
      const errors = await page.evaluate(() => window.__errors);
      assert(Array.isArray(errors) && errors.length === 0, `window.__errors = ${JSON.stringify(errors)}`);
    });

    await check("no console errors and no failed requests (apart from the refused meta calls)", async () => {
      const unexpected = failures.filter((f) => !expectedFailure(f));
      // Chromium logs every 4xx response as a console error; those of the expected refusals are fine.
      const expectedUrls = new Set(failures.filter(expectedFailure).map((f) => f.url));
      const errors = consoleErrors.filter(
        (e) => !(/^Failed to load resource: the server responded with a status of 4\d\d/.test(e.text) && expectedUrls.has(e.url)),
      );
      assert(errors.length === 0, `console errors: ${JSON.stringify(errors.map((e) => `${e.phase}: ${e.text}`))}`);
      assert(
        unexpected.length === 0,
        `failed requests: ${JSON.stringify(unexpected.map((f) => `${f.phase}: ${f.url}: ${f.what}`))}`,
      );
    });

    await check("every request goes to the app's own origin", async () => {
      // data: and blob: URLs are in-page (MapLibre starts its worker from a blob).
      const urls = requests.map((r) => r.url);
      const foreign = urls.filter((url) => !/^(data|blob):/.test(url) && new URL(url).origin !== origin);
      assert(urls.length > 0, "no requests recorded");
      assert(foreign.length === 0, `requests to other hosts: ${JSON.stringify([...new Set(foreign)])}`);
      console.log(`  requests: ${urls.length}, all to ${origin}`);
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

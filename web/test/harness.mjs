// Harness for the headless-Chromium map tests (maps.md §8): a tiny check
// runner, Chromium discovery and the real `saferplaces demo` server.
import { execSync, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

const SERVER_START_TIMEOUT_MS = 120_000; // demo data generation can take ~60 s

// ---------------------------------------------------------------------------
// Tiny check runner: one line per check, "N passed, M failed" at the end.

export const results = [];
let aborted = null; // set when a failed step makes the rest meaningless

/** Why the remaining checks will not run, or null. */
export const abortedBecause = () => aborted;

export async function check(name, fn) {
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
export async function prerequisite(name, fn) {
  const before = results.length;
  await check(name, fn);
  if (!aborted && results.length > before && !results.at(-1).ok) aborted = `"${name}" failed`;
}

export function assert(condition, message) {
  if (!condition) throw new Error(message);
}

// ---------------------------------------------------------------------------
// Browser and server

export function findChrome() {
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
export async function startServer(WEB_DIR) {
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


/** Print the summary and set the exit code. */
export function finish() {
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
}

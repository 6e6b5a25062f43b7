// Cheap lint with no downloads: syntax-check every JavaScript file with
// `node --check`; check that every name the app's modules import from each
// other is exported and used; and make sure the app sources name no external
// URL (the app must only ever talk to its own origin).
import { execFileSync } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const problems = [];

async function files(dir, pattern) {
  const entries = await readdir(join(root, dir), { withFileTypes: true });
  return entries.filter((e) => e.isFile() && pattern.test(e.name)).map((e) => join(root, dir, e.name));
}

for (const file of [
  ...(await files("src", /\.m?js$/)),
  ...(await files("scripts", /\.m?js$/)),
  ...(await files("test", /\.m?js$/)),
]) {
  try {
    execFileSync(process.execPath, ["--check", file], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    problems.push(`${relative(root, file)}: syntax error\n${err.stderr}`);
  }
}

// Any absolute http(s) URL in the shipped sources would be a request to another host.
// XML namespace names look like URLs but are never fetched: those are allowed.
const NAMESPACES = ["http://www.w3.org/2000/svg"];
for (const file of await files("src", /\.(m?js|html|css)$/)) {
  const text = await readFile(file, "utf8");
  for (const [n, raw] of text.split("\n").entries()) {
    const line = NAMESPACES.reduce((l, ns) => l.replaceAll(`"${ns}"`, '""'), raw);
    if (/\bhttps?:\/\//.test(line) || /(^|[\s"'(])\/\/[a-z0-9.-]+\.[a-z]{2,}\//i.test(line)) {
      problems.push(`${relative(root, file)}:${n + 1}: external URL: ${raw.trim()}`);
    }
  }
}

// Imports between the app's modules: the module exists, exports the name, and
// the importing module uses it (node --check resolves none of this).
const exportsOf = new Map();
async function exported(file) {
  if (!exportsOf.has(file)) {
    const text = await readFile(file, "utf8").catch(() => null);
    const names = new Set();
    for (const m of (text ?? "").matchAll(/^export\s+(?:async\s+)?(?:const|let|function\*?|class)\s+([A-Za-z_$][\w$]*)/gm)) {
      names.add(m[1]);
    }
    for (const m of (text ?? "").matchAll(/^export\s*\{([^}]*)\}/gm)) {
      for (const part of m[1].split(",")) names.add(part.trim().split(/\s+as\s+/).pop());
    }
    exportsOf.set(file, text === null ? null : names);
  }
  return exportsOf.get(file);
}
for (const file of await files("src", /\.m?js$/)) {
  const text = await readFile(file, "utf8");
  const where = relative(root, file);
  for (const m of text.matchAll(/^import\s*\{([^}]*)\}\s*from\s*"(\.\/[^"]+)";/gm)) {
    const target = m[2];
    if (target.startsWith("./vendor/")) continue; // copied in by the build
    const names = await exported(join(root, "src", target));
    if (names === null) {
      problems.push(`${where}: imports ${target}, which does not exist in src/`);
      continue;
    }
    const body = text.slice(m.index + m[0].length);
    for (const part of m[1].split(",").map((p) => p.trim()).filter(Boolean)) {
      const [name, local = name] = part.split(/\s+as\s+/);
      if (!names.has(name)) problems.push(`${where}: ${target} does not export ${name}`);
      if (!new RegExp(`(^|[^\\w$.])${local.replace(/\$/g, "\\$")}(?![\\w$])`).test(body)) {
        problems.push(`${where}: ${local} is imported but not used`);
      }
    }
  }
}

if (problems.length) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log("lint ok");

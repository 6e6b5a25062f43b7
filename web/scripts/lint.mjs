// Cheap lint with no downloads: syntax-check every JavaScript file with
// `node --check`, and make sure the app sources name no external URL (the app
// must only ever talk to its own origin).
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
for (const file of await files("src", /\.(m?js|html|css)$/)) {
  const text = await readFile(file, "utf8");
  for (const [n, line] of text.split("\n").entries()) {
    if (/\bhttps?:\/\//.test(line) || /(^|[\s"'(])\/\/[a-z0-9.-]+\.[a-z]{2,}\//i.test(line)) {
      problems.push(`${relative(root, file)}:${n + 1}: external URL: ${line.trim()}`);
    }
  }
}

if (problems.length) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log("lint ok");

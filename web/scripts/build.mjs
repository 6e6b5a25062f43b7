// Build web/dist/ for the saferplaces server to serve as static files.
//
// No bundler: the app is plain ES modules. We copy our sources and the
// MapLibre GL JS v6 ESM build (library, worker, CSS) into dist/. MapLibre v6
// finds its worker relative to `import.meta.url` of maplibre-gl.mjs, so the
// worker must sit next to it in dist/vendor/ under its original name.
import { copyFile, mkdir, readFile, readdir, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src");
const dist = join(root, "dist");
const maplibreDist = join(root, "node_modules", "maplibre-gl", "dist");

// Every module, stylesheet and page in src/ (app.js imports its sibling modules).
const appFiles = (await readdir(src)).filter((name) => /\.(html|js|css)$/.test(name)).sort();
const vendorFiles = ["maplibre-gl.mjs", "maplibre-gl-worker.mjs", "maplibre-gl.css"];

async function main() {
  const { version } = JSON.parse(
    await readFile(join(root, "node_modules", "maplibre-gl", "package.json"), "utf8"),
  );

  await rm(dist, { recursive: true, force: true });
  await mkdir(join(dist, "vendor"), { recursive: true });

  for (const name of appFiles) {
    await copyFile(join(src, name), join(dist, name));
  }
  for (const name of vendorFiles) {
    const from = join(maplibreDist, name);
    // Fail loudly if the package layout changes (e.g. after an upgrade).
    if (!(await stat(from).catch(() => null))?.size) {
      throw new Error(`missing or empty ${from}: check node_modules/maplibre-gl/dist/`);
    }
    await copyFile(from, join(dist, "vendor", name));
  }

  console.log(
    `built ${dist}: ${appFiles.join(", ")}; vendor/ maplibre-gl ${version} (${vendorFiles.join(", ")})`,
  );
}

main().catch((err) => {
  console.error(`build failed: ${err.message}`);
  process.exit(1);
});

// Assembles the build context of the migrations test image (../migrations.sh) in the folder
// given as argv[2]: examples/migrations/{app,migrate}.js, a package.json that makes them ES
// modules, and the `pg` module with the closure of its dependencies, copied from the repo's
// node_modules as npm installed them (so the list never goes stale). Prints one
// "name@version path" line per package copied.
//
// The closure follows dependencies, optionalDependencies and peerDependencies: a missing
// dependency is an error; a missing optional or peer one (pg-native) is left out, as npm does.
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const ENTRY = 'pg';

const out = process.argv[2];
if (out === undefined) {
  console.error('usage: node context.mjs OUT_DIR');
  process.exit(2);
}

/** Where Node would find package `name` from the package folder `from`: the nearest node_modules up to the repo root. */
function resolvePackage(name, from) {
  for (let dir = from; dir.startsWith(ROOT); dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (dir === ROOT) break;
  }
  return undefined;
}

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

const found = new Map(); // package folder -> package.json
const queue = [{ name: ENTRY, from: ROOT, required: true, by: 'the image' }];
while (queue.length > 0) {
  const { name, from, required, by } = queue.shift();
  const dir = resolvePackage(name, from);
  if (dir === undefined) {
    if (required) throw new Error(`${name} (needed by ${by}) is not installed: run npm ci`);
    continue;
  }
  if (found.has(dir)) continue;
  const pkg = readJson(path.join(dir, 'package.json'));
  found.set(dir, pkg);
  const optionalPeers = new Set(Object.entries(pkg.peerDependenciesMeta ?? {}).filter(([, m]) => m.optional).map(([n]) => n));
  for (const dep of Object.keys(pkg.dependencies ?? {})) queue.push({ name: dep, from: dir, required: !(dep in (pkg.optionalDependencies ?? {})), by: pkg.name });
  for (const dep of Object.keys(pkg.optionalDependencies ?? {})) queue.push({ name: dep, from: dir, required: false, by: pkg.name });
  for (const dep of Object.keys(pkg.peerDependencies ?? {})) queue.push({ name: dep, from: dir, required: !optionalPeers.has(dep), by: pkg.name });
}

mkdirSync(out, { recursive: true });
for (const file of ['app.js', 'migrate.js']) cpSync(path.join(ROOT, 'examples/migrations', file), path.join(out, file));
writeFileSync(path.join(out, 'package.json'), JSON.stringify({ name: 'baton-migrations-example', private: true, type: 'module' }, null, 2) + '\n');
const lines = [];
for (const [dir, pkg] of [...found].sort(([a], [b]) => a.localeCompare(b))) {
  const rel = path.relative(ROOT, dir);
  // A package's own nested node_modules are copied as packages of the closure, if they are in it.
  cpSync(dir, path.join(out, rel), { recursive: true, filter: (src) => !path.relative(dir, src).split(path.sep).includes('node_modules') });
  lines.push(`${pkg.name}@${pkg.version} ${rel}`);
}
console.log(lines.join('\n'));

import { readFileSync } from 'node:fs';

/** Baton's version, from the package.json it was installed with (dist/cli/ -> the package root). */
export function batonVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

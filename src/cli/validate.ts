/**
 * `baton validate [-c FILE]`: read and check a config file as `baton start` would before it
 * starts anything (schema, key paths and lines, the TCP control token file, the tls section's
 * certificate, key and CA files), and say what it describes. Starts nothing and talks to no Baton.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/types.js';
import { loadConfig } from '../config/load.js';
import { readTokenFile } from '../control/token.js';
import { EXIT } from './exit.js';
import { isBatonError } from '../errors.js';
import { checkTls } from '../tls/certificate.js';

export async function validate(file: string, json: boolean): Promise<number> {
  let config: Config;
  try {
    config = await loadConfig(file);
    if (config.control.tcp !== undefined) await readTokenFile(config.control.tcp.tokenFile);
    await checkTls(config);
  } catch (err) {
    // CONFIG_INVALID / CONFIG_UNREADABLE: cli.ts prints the reason and exits 2; --json also
    // gets it as {ok: false, error: {code, message, problems}} on stdout.
    if (json && isBatonError(err)) process.stdout.write(JSON.stringify({ ok: false, error: err.toJSON() }) + '\n');
    throw err;
  }
  const warnings = await processWarnings(config);
  for (const w of warnings) process.stderr.write(`baton: warning: ${w}\n`);
  const services = Object.values(config.services).map((s) => ({ name: s.name, runtime: s.runtime, version: s.version, hosts: s.hosts }));
  if (json) {
    process.stdout.write(JSON.stringify({ ok: true, file: config.file, listen: `${config.listen.host}:${config.listen.port}`, control: config.control.socket, services, warnings }) + '\n');
    return EXIT.ok;
  }
  const list = services.map((s) => `${s.name} (${s.runtime}, ${s.version})`).join(', ');
  const rel = path.relative(process.cwd(), config.file);
  const shown = rel === '' || rel.startsWith('..') ? config.file : rel;
  process.stdout.write(`${shown} is valid: ${services.length} service${services.length === 1 ? '' : 's'}: ${list}; listen ${config.listen.host}:${config.listen.port}\n`);
  return EXIT.ok;
}

/** What would fail a start though the file is well formed: a process.cwd missing for the configured version. */
async function processWarnings(config: Config): Promise<string[]> {
  const out: string[] = [];
  for (const s of Object.values(config.services)) {
    if (s.runtime !== 'process') continue;
    const cwd = s.process.cwd.replaceAll('{version}', s.version);
    const st = await stat(cwd).catch(() => undefined);
    if (st === undefined) out.push(`services.${s.name}.process.cwd: ${cwd} does not exist (for version ${s.version})`);
    else if (!st.isDirectory()) out.push(`services.${s.name}.process.cwd: ${cwd} is not a folder`);
  }
  return out;
}

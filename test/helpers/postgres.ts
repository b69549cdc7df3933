/**
 * A throwaway PostgreSQL cluster for the tests (Debian's postgresql): initdb into a temporary
 * folder, listening on a Unix socket in that folder only (no TCP), run as the `postgres` user
 * when the tests run as root (PostgreSQL refuses root). Stopped and removed by `stop()`.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = '/usr/lib/postgresql';

export interface Postgres {
  /** The folder holding the socket: the `host` for a client. */
  socketDir: string;
  port: number;
  stop(): Promise<void>;
}

/** The folder of PostgreSQL's server programs (newest major), or undefined when none is installed. */
export function postgresBin(): string | undefined {
  if (!existsSync(ROOT)) return undefined;
  const majors = readdirSync(ROOT)
    .filter((d) => /^\d+$/.test(d))
    .sort((a, b) => Number(b) - Number(a));
  for (const m of majors) if (existsSync(path.join(ROOT, m, 'bin', 'pg_ctl'))) return path.join(ROOT, m, 'bin');
  return undefined;
}

export async function startPostgres(): Promise<Postgres> {
  const bin = postgresBin();
  if (bin === undefined) throw new Error(`PostgreSQL is not installed (no ${ROOT}/*/bin/pg_ctl): apt-get install postgresql`);
  const dir = await mkdtemp(path.join(tmpdir(), 'baton-pg-'));
  const asRoot = process.getuid?.() === 0;
  const as = async (cmd: string, args: string[]): Promise<void> => {
    if (asRoot) await run('runuser', ['-u', 'postgres', '--', path.join(bin, cmd), ...args], { timeout: 60_000 });
    else await run(path.join(bin, cmd), args, { timeout: 60_000 });
  };
  if (asRoot) {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    await chown(dir, uid, gid);
  }
  const data = path.join(dir, 'data');
  // It only names the socket file (.s.PGSQL.<port>): there is no TCP listener.
  const port = 20000 + Math.floor(Math.random() * 20000);
  await as('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  await as('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-w', '-t', '60', '-o', `-k ${dir} -c listen_addresses= -p ${port} -c fsync=off`, 'start']);
  return {
    socketDir: dir,
    port,
    stop: async () => {
      await as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

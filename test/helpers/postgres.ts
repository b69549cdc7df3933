/**
 * A throwaway PostgreSQL cluster for the tests (Debian's postgresql): initdb into a temporary
 * folder, listening on a Unix socket in that folder (and, with `tcp`, on 127.0.0.1 only: for
 * containers on the host network, which cannot see the socket), run as the `postgres` user
 * when the tests run as root (PostgreSQL refuses root). Stopped and removed by `stop()`.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../src/runtime/free-port.js';

const run = promisify(execFile);
const ROOT = '/usr/lib/postgresql';

export interface Postgres {
  /** The folder holding the socket: the `host` for a client. */
  socketDir: string;
  /** The port: of 127.0.0.1 with `tcp`, else only in the socket's name. */
  port: number;
  /** Whether it also listens on 127.0.0.1:`port`. */
  tcp: boolean;
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

export async function startPostgres(opts: { tcp?: boolean } = {}): Promise<Postgres> {
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
  const tcp = opts.tcp === true;
  // Without tcp it only names the socket file (.s.PGSQL.<port>).
  const port = tcp ? await freePort() : 20000 + Math.floor(Math.random() * 20000);
  // Trust, on the socket and on loopback alike: a throwaway cluster that listens nowhere else.
  await as('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const listen = tcp ? '127.0.0.1' : '';
  await as('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-w', '-t', '60', '-o', `-k ${dir} -c listen_addresses=${listen} -p ${port} -c fsync=off`, 'start']);
  return {
    socketDir: dir,
    port,
    tcp,
    stop: async () => {
      await as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

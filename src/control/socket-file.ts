/**
 * The control socket's file: refused when it is a symbolic link, another user's file or a
 * live Baton's socket, replaced when stale, and created with mode 0600 in one step.
 */
import { chmod, lstat, rename, unlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { BatonError } from '../errors.js';

/** Listen on `at`; rejects with the listen error (a taken port, a bad fd). */
export function listenOn(server: net.Server, at: { fd: number } | { path: string } | { port: number; host: string }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
}

/**
 * Bind `server` to the socket file `socketPath`, mode 0600 from the start, replacing a stale
 * socket: refuses a symlink or another user's file.
 */
export async function listenOnSocketFile(server: net.Server, socketPath: string): Promise<void> {
  await prepareSocketPath(socketPath);
  // Bound under a temporary name, then renamed into place: a stale socket is replaced in
  // one step, and closing this server later does not remove the path (libuv unlinks the
  // name it bound), which after `baton upgrade` is the successor's.
  const bound = path.join(path.dirname(socketPath), `.${process.pid.toString(36)}~`);
  await unlink(bound).catch(() => {});
  // Create it 0600 from the start (umask), not chmod after: no window where others can connect.
  const oldMask = process.umask(0o177);
  try {
    await listenOn(server, { path: bound });
  } finally {
    process.umask(oldMask);
  }
  await chmod(bound, 0o600);
  await rename(bound, socketPath);
}

/** Fail if `path` cannot be used for the socket; remove a stale socket left there. */
export async function prepareSocketPath(path: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (st.isSymbolicLink()) throw new BatonError('SOCKET_UNSAFE', `control socket ${path} is a symbolic link; refusing to use it`);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) throw new BatonError('SOCKET_UNSAFE', `control socket ${path} belongs to uid ${st.uid}, not to this user; refusing to use it`);
  if (!st.isSocket()) throw new BatonError('SOCKET_UNSAFE', `control socket path ${path} exists and is not a socket; refusing to replace it`);
  if (await answers(path)) throw new BatonError('SOCKET_UNSAFE', `another Baton is already listening on ${path}`);
  await unlink(path); // stale socket of a Baton that did not exit cleanly
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    const done = (v: boolean): void => {
      s.destroy();
      resolve(v);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(1000, () => done(false));
  });
}

/**
 * Free TCP ports for the apps Baton starts, found by letting the kernel pick one (listen on
 * port 0) and closing at once. A port is free when handed out, not reserved: until the app
 * listens on it, the kernel may hand the same port to the next caller. It does (about one call
 * in 3,000 on Linux 6, more under load): two replicas started together once got one port and the
 * second failed with EADDRINUSE. So an allocator remembers what it handed out, for longer than
 * any app takes to start, and asks the kernel again when it repeats itself.
 */

import { createServer } from 'node:net';

/** Asks the kernel for a port nothing listens on at `host` right now. */
export type PickPort = (host: string) => Promise<number>;

export interface PortAllocatorOptions {
  /** How long a handed-out port is not handed out again (ms). Default 10 minutes. */
  holdMs?: number;
  /** The kernel's pick; a test passes one that repeats itself. */
  pick?: PickPort;
  now?: () => number;
}

/** Hands out ports that are free and that it has not handed out within `holdMs`. */
export class PortAllocator {
  static readonly TRIES = 50;
  readonly #given = new Map<number, number>();
  readonly #holdMs: number;
  readonly #pick: PickPort;
  readonly #now: () => number;

  constructor(opts: PortAllocatorOptions = {}) {
    this.#holdMs = opts.holdMs ?? 10 * 60_000;
    this.#pick = opts.pick ?? kernelPort;
    this.#now = opts.now ?? Date.now;
  }

  async next(host = '127.0.0.1'): Promise<number> {
    for (let tries = 0; tries < PortAllocator.TRIES; tries++) {
      const port = await this.#pick(host);
      // Checked and taken in one turn after the await: two concurrent calls cannot both win.
      this.#forgetExpired();
      if (!this.#given.has(port)) {
        this.#given.set(port, this.#now());
        return port;
      }
    }
    throw new Error(`no free port on ${host}: the kernel repeated ports already handed out ${PortAllocator.TRIES} times`);
  }

  /** How many ports are remembered (for tests: the memory stays bounded by `holdMs`). */
  get remembered(): number {
    return this.#given.size;
  }

  #forgetExpired(): void {
    const oldest = this.#now() - this.#holdMs;
    // A Map iterates in insertion order, which is the order of the hand-outs.
    for (const [port, at] of this.#given) {
      if (at > oldest) break;
      this.#given.delete(port);
    }
  }
}

/** Listens on port 0 at `host`, reads the port, closes. */
export function kernelPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error(`listening on ${host}:0 gave no port`));
      });
    });
  });
}

// One allocator per process, as the kernel's port space is one per machine: every runtime of a
// Baton (and every helper of a test process) draws from it, so none is handed another's port.
const processPorts = new PortAllocator();

/** A port free at `host` and not handed out by this process in the last 10 minutes. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return processPorts.next(host);
}

import type { Downstream } from './downstream.js';
import { pathOf } from './router.js';

/** Baton's own paths on the public listener. Exact matches only. */
export const CLIENT_JS_PATH = '/_baton/client.js';
export const NOTICE_WS_PATH = '/_baton/ws';

const NOT_FOUND = Buffer.from('not found\n');

/**
 * Serves `/_baton/client.js`; every other `/_baton/` path is 404. Nothing here reflects request
 * input or touches the file system: the script is a constant made once.
 */
export class OwnRoutes {
  readonly #script: Buffer;

  constructor(script: string) {
    this.#script = Buffer.from(script);
  }

  serve(req: Downstream): void {
    const get = req.method === 'GET' || req.method === 'HEAD';
    if (pathOf(req.path) === CLIENT_JS_PATH && get) {
      req.respond(
        200,
        'OK',
        ['content-type', 'text/javascript; charset=utf-8', 'cache-control', 'no-cache', 'x-content-type-options', 'nosniff'],
        { kind: 'length', length: this.#script.length },
      );
      req.write(this.#script);
    } else {
      req.respond(404, 'Not Found', ['content-type', 'text/plain; charset=utf-8'], { kind: 'length', length: NOT_FOUND.length });
      req.write(NOT_FOUND);
    }
    req.end();
  }
}

import type { Downstream } from './downstream.js';
import { pathOf } from './router.js';

const HEALTHY = Buffer.from('ok\n');

/**
 * Whether a request asks for the service's health path: answered by Baton while the service
 * is held, and passed to the app in maintenance, so an outer load balancer keeps Baton in.
 */
export function isHealthCheck(method: string, path: string, healthPath: string): boolean {
  return (method === 'GET' || method === 'HEAD') && pathOf(path) === healthPath;
}

/** The answer to a health check while the service is held: 200, marked `x-baton-held`. */
export function answerHealthy(downstream: Downstream, method: string): void {
  downstream.respond(200, 'OK', ['content-type', 'text/plain', 'x-baton-held', '1'], { kind: 'length', length: 3 });
  if (method !== 'HEAD') downstream.write(HEALTHY);
  downstream.end();
}

import type { ResponseHead } from '../http1/types.js';
import type { Downstream, ResponseBody } from './downstream.js';
import { downstreamHeaders, fieldValue } from './headers.js';
import { injection, type ScriptInjector } from './inject.js';

/**
 * Start the client's answer from the upstream's head: its fields as they cross (headers.ts),
 * its framing, the script of `notify.inject` (`inject`: the answer becomes a stream), the
 * canary cookie. Returns the injector the body goes through, if any.
 */
export function startResponse(downstream: Downstream, head: ResponseHead, method: string, requestId: string, inject: boolean, setCookie: string | undefined): ScriptInjector | undefined {
  let headers = downstreamHeaders(head.headers, requestId);
  let body = clientBody(method, head);
  let injector: ScriptInjector | undefined;
  if (inject && body.kind !== 'none') {
    const rewrite = injection(method, head.status, headers);
    if (rewrite !== undefined) {
      headers = rewrite.headers;
      injector = rewrite.injector;
      body = { kind: 'stream', codings: [] };
    }
  }
  if (setCookie !== undefined) headers.push('set-cookie', setCookie);
  downstream.respond(head.status, head.reason, headers, body);
  return injector;
}

/**
 * How the client's answer is framed, from the upstream's head: no body, a known length, or a
 * stream (chunked or close-delimited upstream: the client side frames it its own way).
 */
function clientBody(method: string, head: ResponseHead): ResponseBody {
  switch (head.body.kind) {
    case 'none': {
      // An answer to HEAD, or a 304, announces the length of the body it does not carry.
      const declared = method === 'HEAD' || head.status === 304 ? Number(fieldValue(head.headers, 'content-length') ?? Number.NaN) : Number.NaN;
      return Number.isSafeInteger(declared) ? { kind: 'none', length: declared } : { kind: 'none' };
    }
    case 'length':
      return { kind: 'length', length: head.body.length };
    default:
      return { kind: 'stream', codings: head.body.codings };
  }
}

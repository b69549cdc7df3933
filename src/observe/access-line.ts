/**
 * One access log line (issue 16): the fields of a finished request, in a fixed order, as one
 * JSON object and a newline. Pure. Written field by field rather than through pino's generic
 * object serializer: that one costs 2-3x as much per line (it looks up serializers and quotes
 * every key of every line), and the whole access log must stay within 10% of a request's cost.
 * Strings from the request (host, path, user agent, request id, traceparent) are escaped by
 * JSON.stringify unless they are plain printable ASCII without `"` or `\`.
 */

/** The fields of a line, in order (docs/observability.md has the table). */
export interface AccessFields {
  kind: 'http' | 'websocket';
  service: string | null;
  host: string | null;
  method: string;
  path: string;
  status: number;
  bytes_in: number;
  bytes_out: number;
  duration_ms: number;
  ttfb_ms: number | null;
  version: string | null;
  upstream: string | null;
  request_id: string;
  client: string;
  user_agent: string | null;
  protocol: string;
  tls: string | null;
  held_ms: number;
  attempts: number;
  outcome: string;
  traceparent: string | null;
}

const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function str(s: string | null | undefined): string {
  if (s === null || s === undefined) return 'null';
  return PLAIN.test(s) ? `"${s}"` : JSON.stringify(s);
}

/** Milliseconds to the microsecond. */
function ms(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** RFC 3339 time of `now`, made once per millisecond (a busy proxy logs many lines in one). */
export class LineClock {
  #at = -1;
  #text = '';

  iso(now: number): string {
    if (now !== this.#at) {
      this.#at = now;
      this.#text = new Date(now).toISOString();
    }
    return this.#text;
  }
}

/** The line: `{"time":"...","kind":...}\n`. */
export function accessLine(time: string, f: AccessFields): string {
  return (
    `{"time":"${time}","kind":"${f.kind}","service":${str(f.service)},"host":${str(f.host)},"method":${str(f.method)},"path":${str(f.path)}` +
    `,"status":${f.status},"bytes_in":${f.bytes_in},"bytes_out":${f.bytes_out},"duration_ms":${ms(f.duration_ms)},"ttfb_ms":${f.ttfb_ms === null ? 'null' : ms(f.ttfb_ms)}` +
    `,"version":${str(f.version)},"upstream":${str(f.upstream)},"request_id":${str(f.request_id)},"client":${str(f.client)},"user_agent":${str(f.user_agent)}` +
    `,"protocol":${str(f.protocol)},"tls":${str(f.tls)},"held_ms":${ms(f.held_ms)},"attempts":${f.attempts},"outcome":${str(f.outcome)},"traceparent":${str(f.traceparent)}}\n`
  );
}

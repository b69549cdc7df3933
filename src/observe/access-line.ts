/**
 * One access log line (issue 16): the fields of a finished request, in a fixed order, as one
 * JSON object and a newline. Pure. The reference text: the log itself writes the same bytes
 * straight into its buffer (access-line-bytes.ts), and a unit test holds the two equal. Written field by field rather than through pino's generic
 * object serializer: that one costs 2-3x as much per line (it looks up serializers and quotes
 * every key of every line), and the whole access log must stay within 10% of a request's cost.
 * Strings from the request (host, path, user agent, request id, client, traceparent) are
 * escaped by JSON.stringify unless they are plain printable ASCII without `"` or `\`.
 */

/** The fields of a line, in order (docs/observability.md has the table). */
export interface AccessFields {
  kind: 'http' | 'websocket';
  service: string | null;
  host: string | null;
  /** null (as path, request_id and protocol) for bytes refused before they were a request. */
  method: string | null;
  path: string | null;
  status: number;
  bytes_in: number;
  bytes_out: number;
  duration_ms: number;
  ttfb_ms: number | null;
  version: string | null;
  upstream: string | null;
  request_id: string | null;
  client: string;
  user_agent: string | null;
  protocol: string | null;
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

/**
 * Milliseconds to the microsecond, as JSON number text. From integers: a double's shortest
 * decimal form costs three times as much, and a line has three of them.
 */
export function ms(x: number): string {
  const us = Math.round(x * 1000);
  if (!(us > 0)) return '0';
  const whole = Math.floor(us / 1000);
  const frac = us - whole * 1000;
  if (frac === 0) return `${whole}`;
  return `${whole}${frac < 10 ? '.00' : frac < 100 ? '.0' : '.'}${frac}`;
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

/**
 * A string Baton made or validated itself, with nothing to escape: a service name or version
 * (config-validated), a method (an HTTP token), an address, a protocol, an outcome.
 */
function safe(s: string | null | undefined): string {
  return s === null || s === undefined ? 'null' : `"${s}"`;
}

/** The line: `{"time":"...","kind":...}\n`. */
export function accessLine(time: string, f: AccessFields): string {
  return (
    `{"time":"${time}","kind":"${f.kind}","service":${safe(f.service)},"host":${str(f.host)},"method":${safe(f.method)},"path":${str(f.path)}` +
    `,"status":${f.status},"bytes_in":${f.bytes_in},"bytes_out":${f.bytes_out},"duration_ms":${ms(f.duration_ms)},"ttfb_ms":${f.ttfb_ms === null ? 'null' : ms(f.ttfb_ms)}` +
    `,"version":${safe(f.version)},"upstream":${safe(f.upstream)},"request_id":${str(f.request_id)},"client":${str(f.client)},"user_agent":${str(f.user_agent)}` +
    `,"protocol":${safe(f.protocol)},"tls":${safe(f.tls)},"held_ms":${ms(f.held_ms)},"attempts":${f.attempts},"outcome":${safe(f.outcome)},"traceparent":${str(f.traceparent)}}\n`
  );
}

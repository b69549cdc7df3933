/**
 * A control request's JSON body (a bounded object; bad JSON and an oversized body are errors
 * with stable codes) and the checks of the fields that more than one endpoint takes.
 */
import type http from 'node:http';
import { BatonError } from '../errors.js';
import { parseDuration } from '../config/duration.js';

const MAX_BODY = 64 * 1024;
const MAX_MESSAGE = 2000;

export function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        // Answer first (the caller closes the connection after it); the rest is discarded.
        if (chunks.length > 0 || size - c.length <= MAX_BODY) reject(new BatonError('PAYLOAD_TOO_LARGE', `request body is over ${MAX_BODY} bytes`));
        chunks.length = 0;
        return;
      }
      chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (size > MAX_BODY) return;
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (text === '') return resolve({});
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        return reject(new BatonError('BAD_JSON', `request body is not valid JSON: ${(err as Error).message}`));
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return reject(new BatonError('BAD_JSON', 'request body must be a JSON object'));
      resolve(parsed as Record<string, unknown>);
    });
  });
}

/**
 * A body's `timeout`: absent or null is none; else a positive duration string, or a
 * BAD_DURATION error showing `example` ("30s").
 */
export function optionalTimeout(t: unknown, example: string): number | undefined {
  if (t === undefined || t === null) return undefined;
  const ms = typeof t === 'string' ? parseDuration(t) : undefined;
  if (ms === undefined || ms <= 0) throw new BatonError('BAD_DURATION', `timeout: expected a duration like "${example}", got ${JSON.stringify(t)}`);
  return ms;
}

/** A notice or maintenance message: at most MAX_MESSAGE characters. */
export function checkMessageLength(message: string): void {
  if (message.length > MAX_MESSAGE) throw new BatonError('BAD_REQUEST', `message is ${message.length} characters; at most ${MAX_MESSAGE}`);
}

import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { BatonError } from '../errors.js';

/** A bearer token of the TCP control listener, and the name the history records its changes under. */
export interface NamedToken {
  name: string;
  token: string;
}

/** `name:token` names a token; a line without one is named after the file. */
const NAMED_RE = /^([A-Za-z0-9_.@-]{1,64}):(\S+)$/;

/**
 * One line of a token file: `token`, or `name:token` (issue 16: the deploy history says which
 * token asked). A token that itself holds a ":" must be written with a name in front.
 */
export function parseTokenLine(line: string, fallbackName: string): NamedToken {
  const text = line.trim();
  const m = NAMED_RE.exec(text);
  return m === null ? { name: fallbackName, token: text } : { name: m[1]!, token: m[2]! };
}

/** A token file's name without its extension: what an unnamed token in it is called. */
export function tokenFileName(file: string): string {
  return basename(file, extname(file)) || 'token';
}

/**
 * The TCP control listener's bearer tokens: every line of the file that is neither empty nor a
 * `#` comment, each at least 16 characters.
 */
export async function readTokens(file: string): Promise<NamedToken[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new BatonError('CONFIG_UNREADABLE', `cannot read control.tcp.token_file ${file}: ${(err as Error).message}`, { cause: err });
  }
  const fallback = tokenFileName(file);
  const tokens = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => parseTokenLine(l, fallback));
  if (tokens.length === 0 || tokens.some((t) => t.token.length < 16)) throw new BatonError('CONFIG_INVALID', `control.tcp.token_file ${file}: the token must be at least 16 characters`);
  return tokens;
}

/** The first token of the file (kept for callers that only check the file). */
export async function readTokenFile(file: string): Promise<string> {
  return (await readTokens(file))[0]!.token;
}

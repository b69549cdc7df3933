import { readFile } from 'node:fs/promises';
import { BatonError } from '../errors.js';

/** The TCP control listener's bearer token: the file's first line, at least 16 characters. */
export async function readTokenFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new BatonError('CONFIG_UNREADABLE', `cannot read control.tcp.token_file ${file}: ${(err as Error).message}`, { cause: err });
  }
  const token = text.split('\n')[0]!.trim();
  if (token.length < 16) throw new BatonError('CONFIG_INVALID', `control.tcp.token_file ${file}: the token must be at least 16 characters`);
  return token;
}

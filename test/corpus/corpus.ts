/**
 * The hostile-input corpus (README.md in this folder): loads every case with its exact bytes.
 * Also what a raw-socket replay against a running Baton needs: a request case's bytes go to the
 * listener as they are; a response case's bytes are what a fake upstream answers a `method`
 * request with.
 */

import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What llhttp (one version) made of a case's bytes. */
export interface LlhttpVerdict {
  /** Messages read to their end. */
  messages: number;
  /** llhttp's error code (HPE_...), if it refused a byte. */
  error?: string;
  /** The offset of the byte it refused. */
  at?: number;
  /** The bytes ended inside a message. */
  pending?: boolean;
}

export interface CorpusCase {
  /** `<source>/<group>/<name>`, unique across the corpus. */
  id: string;
  /** What the case is, in a few words. */
  name: string;
  kind: 'request' | 'response';
  /** Responses: the method of the request they answer. */
  method?: string;
  /** The bytes, as a latin1 string in the files; a Buffer here. */
  bytes: Buffer;
  note?: string;
  /** By llhttp version (`process.versions.llhttp`), as recorded. */
  llhttp?: Record<string, LlhttpVerdict>;
}

export interface CorpusFile {
  file: string;
  source: string;
  about: string;
  cases: CorpusCase[];
}

interface RawCase extends Omit<CorpusCase, 'bytes'> {
  bytes: string;
}

export const CORPUS_DIR = dirname(fileURLToPath(import.meta.url));

/** Every corpus file, its cases in order. */
export function loadCorpus(dir = CORPUS_DIR): CorpusFile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const raw = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { source: string; about: string; cases: RawCase[] };
      return { file, source: raw.source, about: raw.about, cases: raw.cases.map((c) => ({ ...c, bytes: Buffer.from(c.bytes, 'latin1') })) };
    });
}

/** Writes a corpus file back in its one-case-per-line layout. */
export function corpusText(f: CorpusFile): string {
  const cases = f.cases.map((c) => '  ' + JSON.stringify({ ...c, bytes: c.bytes.toString('latin1') })).join(',\n');
  return `{\n "source": ${JSON.stringify(f.source)},\n "about": ${JSON.stringify(f.about)},\n "cases": [\n${cases}\n ]\n}\n`;
}

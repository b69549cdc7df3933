import v8 from 'node:v8';

/**
 * V8's allocation-site pretenuring, turned off for the server process. V8 allocates an object
 * literal or array straight into the old generation once most objects from its site survived a
 * young collection; it then never finds them dying young again (an old object always
 * survives), so the decision sticks. A site of Baton's per-request objects tenured at start-up or
 * under a burst makes every later request's object old from birth, and every young object it
 * points to (header strings, the stream behind it) is kept by the young collector and promoted,
 * to be freed only by a full collection. A proxy's per-request objects all die young: the
 * heuristic is wrong for them, and right for nothing Baton allocates in bulk.
 *
 * Set at run time, before the server allocates anything per request; V8 reads the flag at each
 * collection (`--no-allocation-site-pretenuring` on the command line has the same effect).
 */
export function tuneV8Heap(): void {
  v8.setFlagsFromString('--no-allocation-site-pretenuring');
}

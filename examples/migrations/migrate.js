// v2's migration: every note gets an author. Run by Baton with each deploy (migrate.command),
// as the new version, inside the hold: the old version has no request in flight meanwhile and
// none starts until the switch. Idempotent, so a redeploy of v2 runs it harmlessly again.
//
// For the tests: a version containing "broken" fails, one containing "slow" takes 3 s.
import pg from 'pg';

const VERSION = process.env.BATON_VERSION ?? 'v2';
const client = new pg.Client({ user: process.env.PGUSER ?? 'postgres', database: process.env.PGDATABASE ?? 'postgres' });
await client.connect();
try {
  console.log(`migrating to ${VERSION}: notes.author`);
  await client.query('BEGIN');
  await client.query("ALTER TABLE notes ADD COLUMN IF NOT EXISTS author text NOT NULL DEFAULT 'unknown'");
  await client.query('ALTER TABLE notes ALTER COLUMN author DROP DEFAULT');
  // A real migration takes time (an index, a backfill): about a second here.
  await client.query('SELECT pg_sleep($1)', [VERSION.includes('slow') ? 3 : 1]);
  if (VERSION.includes('broken')) throw new Error('column "author" conflicts with a constraint (on purpose)');
  await client.query('COMMIT');
  console.log('migration done');
} catch (err) {
  await client.query('ROLLBACK').catch(() => {});
  console.error(`migration failed: ${err.message}`);
  process.exitCode = 1;
} finally {
  await client.end();
}

// An app whose versions need different database schemas, for "Deploying schema changes" in the
// README. Version v1 writes notes (body); from v2 on, every note also has an author, a column
// that v2's migration (migrate.js) adds as NOT NULL: after the migration, v1's inserts fail, and
// before it v2's do. Baton runs the migration inside the hold, so neither ever happens.
//
//   POST /notes  {"body": "...", "client": "a", "seq": 1} -> 201 {"id": 7, "version": "v2"}
//   GET  /notes  -> {"count": 12, "ids": [...], "authored": 5}
//   GET  /healthz
//
// PostgreSQL is reached with libpq's variables (PGHOST, PGPORT, PGUSER, PGDATABASE).
import http from 'node:http';
import pg from 'pg';

const VERSION = process.env.BATON_VERSION ?? 'v1';
const SCHEMA = VERSION.startsWith('v1') ? 1 : 2;
const pool = new pg.Pool({ max: 8, user: process.env.PGUSER ?? 'postgres', database: process.env.PGDATABASE ?? 'postgres' });

await pool.query('CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, body text NOT NULL, client text, seq integer)');

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => void handle(req, res, Buffer.concat(chunks).toString('utf8')));
});

async function handle(req, res, text) {
  const send = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json', 'x-app-version': VERSION });
    res.end(JSON.stringify(body));
  };
  try {
    if (req.url === '/healthz') {
      await pool.query('SELECT 1');
      return send(200, { ok: true, version: VERSION });
    }
    if (req.url === '/notes' && req.method === 'POST') {
      const note = JSON.parse(text || '{}');
      const { rows } =
        SCHEMA === 1
          ? await pool.query('INSERT INTO notes (body, client, seq) VALUES ($1, $2, $3) RETURNING id', [note.body ?? '', note.client ?? null, note.seq ?? null])
          : await pool.query('INSERT INTO notes (body, client, seq, author) VALUES ($1, $2, $3, $4) RETURNING id', [note.body ?? '', note.client ?? null, note.seq ?? null, VERSION]);
      return send(201, { id: rows[0].id, version: VERSION });
    }
    if (req.url === '/notes') {
      const { rows } = await pool.query('SELECT id FROM notes ORDER BY id');
      const authored = SCHEMA === 1 ? 0 : Number((await pool.query('SELECT count(*) AS n FROM notes WHERE author IS NOT NULL AND author <> $1', ['unknown'])).rows[0].n);
      return send(200, { count: rows.length, ids: rows.map((r) => r.id), authored, version: VERSION });
    }
    send(404, { error: 'not found' });
  } catch (err) {
    send(500, { error: err.message, version: VERSION });
  }
}

server.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1');
process.on('SIGTERM', () => server.close(() => pool.end().then(() => process.exit(0))));

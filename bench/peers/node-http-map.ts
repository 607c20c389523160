/**
 * What people write by hand: one node:http server and a Map, in one thread, with Lally's routes and
 * answer shapes (GET/PUT/DELETE /kv/{key}, POST /batch, GET /greet).
 *
 *   node dist/bench/peers/node-http-map.js --port P
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { numericFlags } from './server-args.js';

const store = new Map<string, { value: string; timestamp: string }>();

function answer(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function kvAnswer(key: string, entry: { value: string; timestamp: string } | undefined, message: string) {
  return {
    status: 'success',
    key,
    value: entry?.value ?? null,
    timestamp: entry?.timestamp ?? null,
    quorum: { required: 1, achieved: 1 },
    message,
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

interface BatchOp {
  op: string;
  key: string;
  value?: string;
}

function applyOp(op: BatchOp) {
  const entry = store.get(op.key);
  if (op.op === 'get') return kvAnswer(op.key, entry, entry ? 'found' : 'not found');
  if (op.op === 'put') {
    const next = { value: String(op.value), timestamp: new Date().toISOString() };
    store.set(op.key, next);
    return kvAnswer(op.key, next, 'stored');
  }
  store.delete(op.key);
  return kvAnswer(op.key, entry, entry ? 'removed' : 'not found');
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  if (url === '/greet') {
    res.end('hello');
    return;
  }
  if (url.startsWith('/kv/')) {
    const key = decodeURIComponent(url.slice(4));
    if (req.method === 'GET') {
      const entry = store.get(key);
      answer(res, entry ? 200 : 404, kvAnswer(key, entry, entry ? 'found' : 'not found'));
      return;
    }
    const body = await readBody(req);
    if (req.method === 'PUT') answer(res, 200, applyOp({ op: 'put', key, value: body }));
    else if (req.method === 'DELETE') answer(res, 200, applyOp({ op: 'remove', key }));
    else answer(res, 405, { status: 'error', message: 'method not allowed' });
    return;
  }
  if (url === '/batch' && req.method === 'POST') {
    try {
      const parsed = JSON.parse(await readBody(req)) as { ops: BatchOp[] };
      answer(res, 200, { status: 'success', results: parsed.ops.map(applyOp) });
    } catch (error) {
      answer(res, 400, { status: 'error', message: String(error) });
    }
    return;
  }
  answer(res, 404, { status: 'error', message: 'no such route' });
}

const { port } = numericFlags(process.argv, ['port']);
const server = createServer((req, res) => {
  handle(req, res).catch((error: unknown) => answer(res, 500, { status: 'error', message: String(error) }));
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));

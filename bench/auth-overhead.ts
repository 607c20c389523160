/**
 * What auth_token costs on the hot path: the same GET and PUT load (wrk, fixed key and value, every
 * request with the Authorization header) against a node without a token and a node with one, in
 * alternating rounds so that a machine's changing load falls on both alike. Prints requests/s per round, the medians, their ratio and the load average.
 *
 *   npm run build && node dist/bench/auth-overhead.js [--seconds 5] [--rounds 3] [--connections 32]
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(root, 'dist/src/cli/main.js');
const TOKEN = 'bench-token-0123456789abcdef0123456789';
const VALUE = 'v'.repeat(100);

function freePort(): Promise<number> {
  return new Promise((done) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => done(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

async function startNode(extra: string[]): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const args = ['--config', '', '--host', '127.0.0.1', '--http-port', String(port)];
  args.push(
    '--grpc-port',
    String(await freePort()),
    '--shards',
    '2',
    '--no-aof',
    '--log-level',
    'warn',
    ...extra,
  );
  const child = spawn(process.execPath, [CLI, ...args], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      await fetch(`${url}/livez`);
      return { url, child };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  child.kill('SIGKILL');
  throw new Error('the node did not start');
}

function wrk(url: string, script: string, seconds: number, connections: number): number {
  const out = execFileSync(
    'wrk',
    ['-t', '2', '-c', String(connections), '-d', `${seconds}s`, '-s', script, url],
    {
      encoding: 'utf8',
    },
  );
  const match = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (non2xx !== null) throw new Error(`${non2xx[1]} answers were not 2xx (${url})`);
  return match === null ? 0 : Number(match[1]);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '3' },
      connections: { type: 'string', default: '32' },
    },
  });
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const connections = Number(values.connections);
  const dir = mkdtempSync(join(tmpdir(), 'lally-auth-bench-'));
  const script = (method: string): string => {
    const path = join(dir, `${method}.lua`);
    const headers = `wrk.headers["Authorization"] = "Bearer ${TOKEN}"\n`;
    const body = method === 'PUT' ? `wrk.body = "${VALUE}"\n` : '';
    writeFileSync(path, `wrk.method = "${method}"\nwrk.path = "/kv/bench"\n${headers}${body}`);
    return path;
  };
  const open = await startNode([]);
  const guarded = await startNode(['--auth-token', TOKEN]);
  try {
    for (const node of [open, guarded]) {
      await fetch(`${node.url}/kv/bench`, {
        method: 'PUT',
        body: VALUE,
        headers: { authorization: `Bearer ${TOKEN}` },
      });
    }
    const load = [loadavg()[0]!];
    for (const method of ['GET', 'PUT']) {
      const without: number[] = [];
      const withToken: number[] = [];
      for (let round = 0; round < rounds; round++) {
        // Both nodes get the same bytes (the open node ignores the header): the difference is the
        // check. The order alternates so that a drift of the machine's load falls on both.
        const runOpen = () => without.push(wrk(open.url, script(method), seconds, connections));
        const runGuarded = () => withToken.push(wrk(guarded.url, script(method), seconds, connections));
        if (round % 2 === 0) {
          runOpen();
          runGuarded();
        } else {
          runGuarded();
          runOpen();
        }
        load.push(loadavg()[0]!);
      }
      const ratio = median(withToken) / median(without);
      console.log(
        `${method}: without a token ${without.map(Math.round).join(' ')} req/s (median ${Math.round(median(without))}); ` +
          `with a token ${withToken.map(Math.round).join(' ')} (median ${Math.round(median(withToken))}); ratio ${ratio.toFixed(3)}`,
      );
    }
    console.log(`load average (1 min) during the runs: ${load.map((l) => l.toFixed(1)).join(' ')}`);
  } finally {
    open.child.kill('SIGKILL');
    guarded.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

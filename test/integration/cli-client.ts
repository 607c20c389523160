/**
 * `lally get|put|del|nodes|cluster|stats` against a real daemon: the commands run in-process (for
 * coverage) with captured output, and once through the binary (stdin, exit codes of the process).
 */
import { spawn } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import t from 'tap';
import { runClientCommand } from '../../src/cli/client.js';
import type { ClientCommand } from '../../src/cli/client-commands.js';
import { childEnv, nodeCommand } from '../fixtures/child-env.js';
import { CLI, freePort, PROJECT_ROOT, startDaemon } from '../fixtures/daemon-process.js';

const TOKEN = 'cli-client-test-token-0123456789';

interface Run {
  code: number;
  stdout: Buffer;
  stderr: string;
}

async function client(
  command: ClientCommand,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; stdin?: Buffer } = {},
): Promise<Run> {
  const out: Buffer[] = [];
  let stderr = '';
  const stdout = new Writable({
    write(chunk: Buffer, _encoding, done) {
      out.push(Buffer.from(chunk));
      done();
    },
  });
  const errors = new Writable({
    write(chunk: Buffer, _encoding, done) {
      stderr += chunk.toString();
      done();
    },
  });
  const code = await runClientCommand(command, args, {
    stdin: Readable.from(opts.stdin === undefined ? [] : [opts.stdin]),
    stdout,
    stderr: errors,
    env: opts.env ?? {},
  });
  return { code, stdout: Buffer.concat(out), stderr };
}

t.test('the client against a real daemon', async (t) => {
  const daemon = await startDaemon(t, {
    shards: 2,
    args: ['--max-value-bytes', '64', '--auth-token', TOKEN],
  });
  const url = ['--url', daemon.url, '--token', TOKEN];

  let refused = await client('stats', ['--url', daemon.url]);
  t.equal(refused.code, 4, 'no token for a node that asks for one: exit 4');
  t.match(refused.stderr, /^lally: stats: HTTP 401: .*pass --token or set LALLY_TOKEN\n$/, 'says what to do');
  refused = await client('get', ['k', '--url', daemon.url, '--token', 'wrong-token-0123456789abcdef']);
  t.equal(refused.code, 4, 'a wrong token: exit 4');

  let run: Run = await client('put', ['user:1', 'alice', ...url]);
  t.equal(run.code, 0, 'put: exit 0');
  t.match(
    run.stdout.toString(),
    /^stored "user:1" \(success, quorum 1\/1, \d{4}-\d\d-\d\dT/,
    'put: a human line',
  );

  run = await client('get', ['user:1'], { env: { LALLY_URL: daemon.url, LALLY_AUTH_TOKEN: TOKEN } });
  t.same(
    [run.code, run.stdout.toString()],
    [0, 'alice'],
    'get (LALLY_URL, LALLY_AUTH_TOKEN): the bare value, no newline into a pipe',
  );

  const bytes = Buffer.from('line one\nl\u00e9 deux\n\u0000end', 'utf8');
  run = await client('put', ['a/b c?', '-', ...url], { stdin: bytes });
  t.equal(run.code, 0, 'put KEY -: reads stdin');
  run = await client('get', ['a/b c?', ...url]);
  t.same(run.stdout, bytes, 'a key with / and ? and a value with newlines and NUL: the same bytes back');

  run = await client('get', ['user:1', '--json', ...url]);
  const answer = JSON.parse(run.stdout.toString()) as { key: string; value: string; status: string };
  t.same(
    [answer.status, answer.key, answer.value],
    ['success', 'user:1', 'alice'],
    'get --json: the JSON answer',
  );

  run = await client('get', ['nobody', ...url]);
  t.same(
    [run.code, run.stderr],
    [3, 'lally: key "nobody" does not exist\n'],
    'get of a missing key: exit 3, one line',
  );
  run = await client('get', ['nobody', '--json', ...url]);
  t.equal(run.code, 3, 'get --json of a missing key: exit 3');
  t.match(
    JSON.parse(run.stdout.toString()),
    { value: null },
    'get --json of a missing key: the JSON answer still',
  );

  run = await client('del', ['user:1', ...url]);
  t.match([run.code, run.stdout.toString()], [0, /^deleted "user:1" \(success/], 'del: exit 0');
  run = await client('del', ['user:1', ...url]);
  t.equal(run.code, 3, 'del again: exit 3');

  run = await client('put', ['big', 'x'.repeat(65), ...url]);
  t.equal(run.code, 4, 'a value over the limit: exit 4 (refused)');
  t.match(
    run.stderr,
    /^lally: put "big": HTTP 413: .*\(LALLY_ERR_VALUE_TOO_LARGE\)\n$/,
    'says why, on one line',
  );

  run = await client('nodes', url);
  t.same([run.code, run.stdout.toString()], [0, '(no other live members)\n'], 'nodes: none on a single node');
  run = await client('nodes', ['--json', ...url]);
  t.same(JSON.parse(run.stdout.toString()), { status: 'success', nodes: [] }, 'nodes --json');

  run = await client('cluster', url);
  t.equal(run.code, 0, 'cluster: exit 0');
  t.match(
    run.stdout.toString(),
    /^ID +ADDRESS +STATE +RING SHARE +LAST HEARD\n[0-9a-f]{8} +\S+ +alive +100\.0% +\(this node\)\n$/,
  );

  run = await client('stats', url);
  t.equal(run.code, 0, 'stats: exit 0');
  t.match(run.stdout.toString(), /^status: success\n/m);
  t.match(run.stdout.toString(), /^shards\.1\.keys: \d+$/m, 'stats: one path: value line per figure');
  t.match(run.stdout.toString(), /^totals\.keys: 1$/m, 'stats: the key count (a/b c?)');

  // the binary itself (one daemon for the whole file: each start costs seconds on a loaded machine)
  const binary = (args: string[], input?: string) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(...nodeCommand([CLI, ...args]), {
        cwd: PROJECT_ROOT,
        env: childEnv({ LALLY_URL: daemon.url, LALLY_TOKEN: TOKEN }),
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(input ?? '');
    });
  const put = await binary(['put', 'piped', '-'], 'from a pipe');
  t.equal(put.code, 0, 'lally put KEY - < file');
  const get = await binary(['get', 'piped']);
  t.same([get.code, get.stdout], [0, 'from a pipe']);
  const missing = await binary(['del', 'nothing']);
  t.same([missing.code, missing.stderr], [3, 'lally: key "nothing" does not exist\n']);

  run = await client('get', ['k', '--url', 'http://127.0.0.1:9', '--token', 'secret']);
  t.equal(run.code, 1, 'a node that is not there: exit 1');
  t.match(run.stderr, /^lally: cannot (connect to|reach) http:\/\/127\.0\.0\.1:9/);
});

t.test('usage errors and --help', async (t) => {
  let run = await client('get', []);
  t.same(
    [run.code, run.stderr],
    [2, 'lally: usage: lally get KEY (see lally get --help)\n'],
    'a missing key',
  );
  run = await client('put', ['k']);
  t.equal(run.code, 2, 'put without a value');
  run = await client('stats', ['--bogus']);
  t.equal(run.code, 2, 'an unknown option');
  t.match(run.stderr, /^lally: Unknown option '--bogus'/);
  run = await client('stats', ['--url', 'ftp://x']);
  t.equal(run.code, 2, 'a URL that is not http');
  run = await client('stats', ['--timeout-ms', '0']);
  t.equal(run.code, 2, 'a bad timeout');
  run = await client('get', ['--help']);
  t.equal(run.code, 0, '--help: exit 0');
  t.match(
    run.stdout.toString(),
    /Exit codes: 0 success; 1 .*\n3 the key does not exist; 4 /s,
    'documents the exit codes',
  );
});

t.test('the token goes out as a bearer header (from --token, LALLY_TOKEN or LALLY_AUTH_TOKEN)', async (t) => {
  const { createServer } = await import('node:http');
  const seen: (string | undefined)[] = [];
  const server = createServer((request, response) => {
    seen.push(request.headers.authorization);
    response.writeHead(401, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({
        status: 'error',
        code: 'LALLY_ERR_UNAUTHORIZED',
        message: 'a bearer token is required',
      }),
    );
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  const url = `http://127.0.0.1:${port}`;
  const run = await client('stats', ['--url', url, '--token', 'flag']);
  t.equal(run.code, 4, 'a 401: exit 4');
  t.match(
    run.stderr,
    /^lally: stats: HTTP 401: a bearer token is required \(LALLY_ERR_UNAUTHORIZED\): pass --token or set LALLY_TOKEN\n$/,
  );
  await client('stats', ['--url', url], { env: { LALLY_TOKEN: 'env' } });
  await client('stats', ['--url', url], { env: { LALLY_AUTH_TOKEN: 'daemon-env' } });
  await client('stats', ['--url', url], { env: { LALLY_TOKEN: 'first', LALLY_AUTH_TOKEN: 'second' } });
  await client('stats', ['--url', url]);
  t.same(seen, ['Bearer flag', 'Bearer env', 'Bearer daemon-env', 'Bearer first', undefined]);
});

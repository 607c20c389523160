/**
 * `lally get|put|del|nodes|cluster|stats`: a client of a running node's HTTP API (README's
 * "Command-line client"). Human output by default, the server's JSON with --json.
 * Exit codes: 0 success, 1 the request failed (cannot connect, timeout, 5xx, an answer that is not
 * Lally's), 2 bad usage, 3 the key does not exist (get, del), 4 the server refused the request (4xx:
 * a missing or wrong token, a key or value over the limits).
 */
import { parseArgs } from 'node:util';
import type { ClientCommand } from './client-commands.js';
import { renderCluster, renderNodes, renderStats, renderWrite } from './client-output.js';

export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, NOT_FOUND: 3, REFUSED: 4 } as const;

export interface ClientIo {
  readonly stdin: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
}

export const CLIENT_USAGE = `usage: lally <command> [options]

Commands (a client of a running node's HTTP API):
  get KEY            print the value (its bytes as stored); exit 3 if the key does not exist
  put KEY VALUE      store VALUE; \`put KEY -\` reads the value from stdin (bytes as they come)
  del KEY            delete the key; exit 3 if it did not exist
  nodes              the other members' gRPC addresses this node considers alive
  cluster            every member this node knows (id, address, state, ring share)
  stats              the node's figures, one \`path: value\` line each

Options:
  --url URL          the node (default $LALLY_URL, else http://127.0.0.1:3000)
  --token TOKEN      send \`Authorization: Bearer TOKEN\` (default $LALLY_TOKEN, else $LALLY_AUTH_TOKEN)
  --json             print the server's JSON answer instead
  --timeout-ms MS    give up after MS milliseconds (default 10000)
  -h, --help         this text

Exit codes: 0 success; 1 the request failed (cannot connect, timeout, server error); 2 bad usage;
3 the key does not exist; 4 the server refused the request (a 4xx: wrong token, a key too large, ...).
`;

class ClientError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

interface ClientOptions {
  url: URL;
  token: string | undefined;
  json: boolean;
  timeoutMs: number;
}

function parseClientArgs(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): { options: ClientOptions; positionals: string[] } | 'help' {
  let parsed: ReturnType<typeof parse>;
  function parse() {
    return parseArgs({
      args: [...args],
      allowPositionals: true,
      strict: true,
      options: {
        url: { type: 'string' },
        token: { type: 'string' },
        json: { type: 'boolean' },
        'timeout-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  }
  try {
    parsed = parse();
  } catch (err) {
    throw new ClientError((err as Error).message.split('\n')[0]!, EXIT.USAGE);
  }
  const { values, positionals } = parsed;
  if (values.help === true) return 'help';
  const urlText = values.url ?? nonEmpty(env.LALLY_URL) ?? 'http://127.0.0.1:3000';
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    throw new ClientError(`--url: not a URL: ${urlText}`, EXIT.USAGE);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ClientError(`--url: only http:// and https:// are supported, got ${urlText}`, EXIT.USAGE);
  }
  const timeoutText = values['timeout-ms'] ?? '10000';
  const timeoutMs = Number(timeoutText);
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    throw new ClientError(
      `--timeout-ms: a positive whole number of milliseconds, got ${timeoutText}`,
      EXIT.USAGE,
    );
  }
  const token = values.token ?? nonEmpty(env.LALLY_TOKEN) ?? nonEmpty(env.LALLY_AUTH_TOKEN);
  return { options: { url, token, json: values.json === true, timeoutMs }, positionals };
}

function nonEmpty(text: string | undefined): string | undefined {
  return text === undefined || text === '' ? undefined : text;
}

interface Answer {
  status: number;
  body: Buffer;
  /** The body as JSON, when it is. */
  json: unknown;
}

async function call(
  options: ClientOptions,
  method: string,
  path: string,
  body?: Buffer,
  accept = 'application/json',
): Promise<Answer> {
  // `new URL('kv/a', base)` keeps a base path such as http://proxy/lally/
  const base = options.url.href.endsWith('/') ? options.url.href : `${options.url.href}/`;
  const target = new URL(path, base);
  const headers: Record<string, string> = { accept };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (body !== undefined) headers['content-type'] = 'application/octet-stream';
  let response: Response;
  try {
    response = await fetch(target, {
      method,
      headers,
      body,
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (err) {
    throw new ClientError(describeFetchError(err, options), EXIT.FAILED);
  }
  let bytes: Buffer;
  try {
    bytes = Buffer.from(await response.arrayBuffer());
  } catch (err) {
    throw new ClientError(`the answer from ${options.url.origin} broke off: ${describe(err)}`, EXIT.FAILED);
  }
  let json: unknown;
  if ((response.headers.get('content-type') ?? '').includes('json')) {
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      json = undefined;
    }
  }
  return { status: response.status, body: bytes, json };
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function describeFetchError(err: unknown, options: ClientOptions): string {
  const where = options.url.origin;
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return `no answer from ${where} within ${options.timeoutMs} ms`;
  }
  const cause = err instanceof Error ? (err.cause as NodeJS.ErrnoException | undefined) : undefined;
  if (cause?.code === 'ECONNREFUSED')
    return `cannot connect to ${where}: connection refused (is lally running?)`;
  if (cause?.code === 'ENOTFOUND') return `cannot connect to ${where}: unknown host ${options.url.hostname}`;
  if (cause !== undefined) return `cannot reach ${where}: ${cause.message}`;
  return `cannot reach ${where}: ${describe(err)}`;
}

/** The server's error answer as one line, and the exit code for it. */
function failure(answer: Answer, what: string): ClientError {
  const error = answer.json as { code?: unknown; message?: unknown } | undefined;
  const detail =
    typeof error?.message === 'string'
      ? `${error.message}${typeof error.code === 'string' ? ` (${error.code})` : ''}`
      : answer.body.toString('utf8').trim().slice(0, 200) || 'no details';
  const refused = answer.status >= 400 && answer.status < 500;
  const hint = answer.status === 401 ? ': pass --token or set LALLY_TOKEN' : '';
  return new ClientError(
    `${what}: HTTP ${answer.status}: ${detail}${hint}`,
    refused ? EXIT.REFUSED : EXIT.FAILED,
  );
}

function codeOf(answer: Answer): string | undefined {
  const code = (answer.json as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

function keyPath(key: string): string {
  return `kv/${encodeURIComponent(key)}`;
}

function expectArgs(command: string, positionals: readonly string[], names: readonly string[]): string[] {
  if (positionals.length !== names.length) {
    const usage = [command, ...names.map((n) => n.toUpperCase())].join(' ');
    throw new ClientError(`usage: lally ${usage} (see lally ${command} --help)`, EXIT.USAGE);
  }
  return [...positionals];
}

function printJson(io: ClientIo, answer: Answer): void {
  io.stdout.write(
    `${answer.json === undefined ? answer.body.toString('utf8') : JSON.stringify(answer.json)}\n`,
  );
}

async function execute(
  command: ClientCommand,
  positionals: string[],
  options: ClientOptions,
  io: ClientIo,
): Promise<number> {
  switch (command) {
    case 'get': {
      const [key] = expectArgs('get', positionals, ['key']);
      const answer = options.json
        ? await call(options, 'GET', keyPath(key!))
        : await call(options, 'GET', `${keyPath(key!)}?raw`, undefined, 'application/octet-stream');
      if (answer.status === 404 && codeOf(answer) !== 'LALLY_ERR_ROUTE_NOT_FOUND') {
        if (options.json) printJson(io, answer);
        io.stderr.write(`lally: key ${JSON.stringify(key)} does not exist\n`);
        return EXIT.NOT_FOUND;
      }
      if (answer.status !== 200) throw failure(answer, `get ${JSON.stringify(key)}`);
      if (options.json) printJson(io, answer);
      else {
        io.stdout.write(answer.body);
        // a terminal gets a final newline; a pipe gets the bytes exactly as stored
        if (io.stdout.isTTY === true && answer.body.at(-1) !== 0x0a) io.stdout.write('\n');
      }
      return EXIT.OK;
    }
    case 'put': {
      const [key, valueArg] = expectArgs('put', positionals, ['key', 'value']);
      const value = valueArg === '-' ? await readAll(io.stdin) : Buffer.from(valueArg!, 'utf8');
      const answer = await call(options, 'PUT', keyPath(key!), value);
      if (answer.status !== 200) throw failure(answer, `put ${JSON.stringify(key)}`);
      if (options.json) printJson(io, answer);
      else io.stdout.write(`${renderWrite('stored', key!, answer.json)}\n`);
      return EXIT.OK;
    }
    case 'del': {
      const [key] = expectArgs('del', positionals, ['key']);
      const answer = await call(options, 'DELETE', keyPath(key!));
      if (answer.status === 404 && codeOf(answer) !== 'LALLY_ERR_ROUTE_NOT_FOUND') {
        if (options.json) printJson(io, answer);
        io.stderr.write(`lally: key ${JSON.stringify(key)} does not exist\n`);
        return EXIT.NOT_FOUND;
      }
      if (answer.status !== 200) throw failure(answer, `del ${JSON.stringify(key)}`);
      if (options.json) printJson(io, answer);
      else io.stdout.write(`${renderWrite('deleted', key!, answer.json)}\n`);
      return EXIT.OK;
    }
    case 'nodes':
    case 'cluster':
    case 'stats': {
      expectArgs(command, positionals, []);
      const answer = await call(options, 'GET', command);
      if (answer.status !== 200) throw failure(answer, command);
      if (answer.json === undefined) {
        throw new ClientError(
          `${command}: ${options.url.origin} did not answer JSON (is it lally?)`,
          EXIT.FAILED,
        );
      }
      if (options.json) printJson(io, answer);
      else {
        const render =
          command === 'nodes' ? renderNodes : command === 'cluster' ? renderCluster : renderStats;
        io.stdout.write(render(answer.json));
      }
      return EXIT.OK;
    }
  }
}

export async function runClientCommand(
  command: ClientCommand,
  args: readonly string[],
  io: ClientIo,
): Promise<number> {
  try {
    const parsed = parseClientArgs(args, io.env);
    if (parsed === 'help') {
      io.stdout.write(CLIENT_USAGE);
      return EXIT.OK;
    }
    return await execute(command, parsed.positionals, parsed.options, io);
  } catch (err) {
    if (err instanceof ClientError) {
      io.stderr.write(`lally: ${err.message}\n`);
      return err.exitCode;
    }
    io.stderr.write(`lally: ${command}: ${describe(err)}\n`);
    return EXIT.FAILED;
  }
}

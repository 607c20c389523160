/**
 * `lally cluster-demo`: its command line, each node's flags and the text it prints. Pure functions;
 * the processes are in cluster-demo.ts.
 */
import { join } from 'node:path';

export const MAX_DEMO_NODES = 9;

export const CLUSTER_DEMO_USAGE = `usage: lally cluster-demo [options] [-- <node options>]
  Starts a local cluster of real nodes on 127.0.0.1 and stays in the foreground; Ctrl-C stops them all.
  Node 1 starts first, the others join it with --seed-node. <node options> go to every node
  (e.g. -- --write-quorum 2 --replication-factor 2); each node runs 2 shards unless they say --shards.

  --nodes N            nodes to start, 1..${MAX_DEMO_NODES} (default 3)
  --base-port P        node i's HTTP port is P+i-1 (default 3001); 0: a free port for each node
  --grpc-base-port G   node i's gRPC port is G+i-1 (default 0: each node binds a free port)
  --data-dir BASE      node i's data dir is BASE/node-i and its log BASE/node-i.log; kept at exit
                       (default: a fresh temporary directory, removed at exit)
  --keep               keep the temporary directory at exit
  -h, --help           this text

  Exit codes: 0 every node stopped cleanly, 1 a node failed (to start, or later), 2 bad command line.
`;

export interface ClusterDemoOptions {
  readonly nodes: number;
  /** 0: every node's HTTP port is its own pick. */
  readonly basePort: number;
  /** 0: every node's gRPC port is its own pick. */
  readonly grpcBasePort: number;
  readonly dataDir: string | undefined;
  readonly keep: boolean;
  /** Given after `--`: passed to every node. */
  readonly nodeArgs: readonly string[];
}

export type ClusterDemoArgs =
  | { readonly kind: 'run'; readonly options: ClusterDemoOptions }
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'error'; readonly message: string };

/** Flags the demo sets on every node itself: given after `--` they would be given twice. */
const OWN_NODE_FLAGS = ['host', 'http-port', 'grpc-port', 'data-dir', 'seed-node'];

function flagName(arg: string): string | undefined {
  if (!arg.startsWith('--')) return undefined;
  const name = arg.slice(2).split('=')[0]!.replaceAll('_', '-');
  return name.startsWith('no-') ? name.slice(3) : name;
}

function integer(text: string | undefined, flag: string, min: number, max: number): number | string {
  if (text === undefined) return `--${flag} needs a value`;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    return `--${flag} must be an integer from ${min} to ${max}, got '${text}'`;
  }
  return Number(text);
}

export function parseClusterDemoArgs(argv: readonly string[]): ClusterDemoArgs {
  const dash = argv.indexOf('--');
  const own = dash === -1 ? argv : argv.slice(0, dash);
  const nodeArgs = dash === -1 ? [] : argv.slice(dash + 1);
  let nodes = 3;
  let basePort = 3001;
  let grpcBasePort = 0;
  let dataDir: string | undefined;
  let keep = false;
  for (let i = 0; i < own.length; i++) {
    const arg = own[i]!;
    const [name, inline] = arg.split(/=(.*)/s) as [string, string | undefined];
    const value = () => inline ?? own[++i];
    switch (name) {
      case '-h':
      case '--help':
        return { kind: 'help', text: CLUSTER_DEMO_USAGE };
      case '--keep':
        keep = true;
        break;
      case '--data-dir': {
        const dir = value();
        if (dir === undefined || dir === '')
          return { kind: 'error', message: '--data-dir needs a directory' };
        dataDir = dir;
        break;
      }
      case '--nodes':
      case '--base-port':
      case '--grpc-base-port': {
        const flag = name.slice(2);
        const parsed = integer(
          value(),
          flag,
          flag === 'nodes' ? 1 : 0,
          flag === 'nodes' ? MAX_DEMO_NODES : 65535,
        );
        if (typeof parsed === 'string') return { kind: 'error', message: parsed };
        if (flag === 'nodes') nodes = parsed;
        else if (flag === 'base-port') basePort = parsed;
        else grpcBasePort = parsed;
        break;
      }
      default:
        return {
          kind: 'error',
          message: `unknown argument '${arg}' (options for the nodes go after --)`,
        };
    }
  }
  for (const [flag, base] of [
    ['base-port', basePort],
    ['grpc-base-port', grpcBasePort],
  ] as const) {
    if (base !== 0 && base + nodes - 1 > 65535) {
      return { kind: 'error', message: `--${flag} ${base} leaves no room for ${nodes} ports` };
    }
  }
  if (basePort !== 0 && grpcBasePort !== 0 && Math.abs(basePort - grpcBasePort) < nodes) {
    return { kind: 'error', message: 'the HTTP and gRPC port ranges overlap' };
  }
  const taken = nodeArgs.map(flagName).find((name) => name !== undefined && OWN_NODE_FLAGS.includes(name));
  if (taken !== undefined) {
    return { kind: 'error', message: `--${taken} is set by cluster-demo for each node; see --help` };
  }
  return { kind: 'run', options: { nodes, basePort, grpcBasePort, dataDir, keep, nodeArgs } };
}

/**
 * Node `index` (1-based): its data dir, its log file and its command line (after the CLI path). The
 * HTTP port is chosen by the caller: with --base-port 0, a free port at the time of the start.
 */
export function nodePlan(
  options: ClusterDemoOptions,
  base: string,
  index: number,
  seed: string | undefined,
  httpPort: number,
): { dataDir: string; logFile: string; args: string[] } {
  const dataDir = join(base, `node-${index}`);
  const port = (first: number) => String(first === 0 ? 0 : first + index - 1);
  const given = new Set(options.nodeArgs.map(flagName));
  const args = ['--host', '127.0.0.1', '--http-port', String(httpPort)];
  args.push('--grpc-port', port(options.grpcBasePort), '--data-dir', dataDir);
  if (seed !== undefined) args.push('--seed-node', seed);
  // lally.yml in the working directory would otherwise apply to every node; --config after -- wins.
  if (!given.has('config')) args.push('--config', '');
  if (!given.has('shards')) args.push('--shards', '2');
  args.push(...options.nodeArgs);
  return { dataDir, logFile: join(base, `node-${index}.log`), args };
}

export interface ReadyNode {
  readonly index: number;
  readonly pid: number;
  readonly id: string;
  readonly http: string;
  readonly grpc: string;
  readonly logFile: string;
}

/** The node's id, HTTP URL and gRPC address, from its JSON start-up line; undefined for other lines. */
export function parseReadyLine(line: string): { id: string; http: string; grpc: string } | undefined {
  if (!line.includes('lally listening on')) return undefined;
  try {
    const fields = JSON.parse(line) as { nodeId?: unknown; http?: unknown; address?: unknown };
    const { nodeId, http, address } = fields;
    if (typeof nodeId !== 'string' || typeof http !== 'string' || typeof address !== 'string')
      return undefined;
    return { id: nodeId, http, grpc: address };
  } catch {
    return undefined;
  }
}

/** A log line as a person reads it: the message (and error) of a JSON line, else the line itself. */
export function readableLogLine(line: string): string {
  try {
    const fields = JSON.parse(line) as { msg?: unknown; err?: { message?: unknown } };
    const error = typeof fields.err?.message === 'string' ? `: ${fields.err.message}` : '';
    return typeof fields.msg === 'string' ? `${fields.msg}${error}` : line;
  } catch {
    return line;
  }
}

export function readyReport(nodes: readonly ReadyNode[], base: string, removed: boolean): string {
  const first = nodes[0]!;
  const other = nodes[nodes.length - 1]!;
  const lines = [`lally cluster-demo: ${nodes.length} node(s) ready`, ''];
  for (const node of nodes) {
    lines.push(`  node-${node.index}  id ${node.id}  ${node.http}  grpc ${node.grpc}  pid ${node.pid}`);
  }
  lines.push(
    '',
    `Data and logs: ${base}${removed ? ' (removed at exit; --keep keeps it)' : ''}`,
    '',
    'Try:',
    `  curl ${first.http}/nodes`,
    `  curl ${first.http}/cluster`,
    `  curl -X PUT ${first.http}/kv/user:1 -d alice`,
    `  curl ${first.http}/kv/user:1`,
    `  curl ${other.http}/kv/user:1`,
    `  tail -f ${first.logFile}`,
    '',
    'Ctrl-C stops every node.',
    '',
  );
  return lines.join('\n');
}

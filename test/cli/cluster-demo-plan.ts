import t from 'tap';
import {
  type ClusterDemoOptions,
  nodePlan,
  parseClusterDemoArgs,
  parseReadyLine,
  readableLogLine,
  readyReport,
} from '../../src/cli/cluster-demo-plan.js';

function options(argv: string[]): ClusterDemoOptions {
  const parsed = parseClusterDemoArgs(argv);
  if (parsed.kind !== 'run') throw new Error(`expected options, got ${JSON.stringify(parsed)}`);
  return parsed.options;
}

function error(argv: string[]): string {
  const parsed = parseClusterDemoArgs(argv);
  return parsed.kind === 'error' ? parsed.message : `no error: ${parsed.kind}`;
}

t.test('defaults, and every option in both spellings', async (t) => {
  t.same(options([]), {
    nodes: 3,
    basePort: 3001,
    grpcBasePort: 0,
    dataDir: undefined,
    keep: false,
    nodeArgs: [],
  });
  t.same(
    options(['--nodes', '5', '--base-port=4000', '--grpc-base-port', '51000', '--data-dir', 'x', '--keep']),
    { nodes: 5, basePort: 4000, grpcBasePort: 51000, dataDir: 'x', keep: true, nodeArgs: [] },
  );
  t.same(options(['--nodes=1', '--', '--write-quorum', '2', '--', 'x']).nodeArgs, [
    '--write-quorum',
    '2',
    '--',
    'x',
  ]);
  t.equal(parseClusterDemoArgs(['-h']).kind, 'help');
  t.equal(parseClusterDemoArgs(['--nodes', '2', '--help']).kind, 'help');
});

t.test('a bad command line says what is wrong', async (t) => {
  for (const bad of ['0', '10', 'x', '2.5', '-1', '']) {
    t.equal(
      error(['--nodes', bad]),
      `--nodes must be an integer from 1 to 9, got '${bad}'`,
      `--nodes ${bad}`,
    );
  }
  t.equal(error(['--nodes']), '--nodes needs a value');
  t.equal(error(['--base-port', '70000']), "--base-port must be an integer from 0 to 65535, got '70000'");
  t.equal(error(['--base-port', '65534']), '--base-port 65534 leaves no room for 3 ports');
  t.equal(
    error(['--base-port', '4000', '--grpc-base-port', '4002']),
    'the HTTP and gRPC port ranges overlap',
  );
  t.equal(error(['--data-dir']), '--data-dir needs a directory');
  t.match(
    error(['--write-quorum', '2']),
    /unknown argument '--write-quorum' \(options for the nodes go after --\)/,
  );
  for (const own of ['--http-port=5', '--grpc_port', '--seed-node', '--data-dir', '--host']) {
    t.match(error(['--', own, '1']), /is set by cluster-demo for each node/, own);
  }
});

t.test("each node's command line: ports, data dir, seed, and what -- passes on", async (t) => {
  const first = nodePlan(options([]), '/base', 1, undefined, 3001);
  t.same(first, {
    dataDir: '/base/node-1',
    logFile: '/base/node-1.log',
    args: [
      '--host',
      '127.0.0.1',
      '--http-port',
      '3001',
      '--grpc-port',
      '0',
      '--data-dir',
      '/base/node-1',
    ].concat(['--config', '', '--shards', '2']),
  });
  const third = nodePlan(
    options(['--grpc-base-port', '51000', '--', '--shards', '1', '--config=c.yml']),
    '/b',
    3,
    'h:1',
    3003,
  );
  t.same(third.args, [
    '--host',
    '127.0.0.1',
    '--http-port',
    '3003',
    '--grpc-port',
    '51002',
    '--data-dir',
    '/b/node-3',
    '--seed-node',
    'h:1',
    '--shards',
    '1',
    '--config=c.yml',
  ]);
});

t.test('the start-up line, log lines and the report', async (t) => {
  const line = JSON.stringify({
    msg: 'lally listening on http://127.0.0.1:3001 with 2 shards (node ab12)',
    nodeId: 'ab12',
    http: 'http://127.0.0.1:3001',
    address: '127.0.0.1:40001',
  });
  t.same(parseReadyLine(line), { id: 'ab12', http: 'http://127.0.0.1:3001', grpc: '127.0.0.1:40001' });
  t.equal(parseReadyLine('{"msg":"gRPC server bound"}'), undefined);
  t.equal(parseReadyLine('lally listening on, but not JSON'), undefined);
  t.equal(parseReadyLine('{"msg":"lally listening on", "nodeId": 1}'), undefined);
  t.equal(readableLogLine('{"msg":"failed","err":{"message":"boom"}}'), 'failed: boom');
  t.equal(readableLogLine('{"msg":"plain"}'), 'plain');
  t.equal(readableLogLine('not json'), 'not json');
  t.equal(readableLogLine('{"level":30}'), '{"level":30}');
  const nodes = [1, 2].map((index) => ({
    index,
    pid: 100 + index,
    id: `id${index}`,
    http: `http://127.0.0.1:300${index}`,
    grpc: `127.0.0.1:4000${index}`,
    logFile: `/b/node-${index}.log`,
  }));
  const report = readyReport(nodes, '/b', true);
  t.match(report, /^lally cluster-demo: 2 node\(s\) ready\n/);
  t.match(report, 'node-1  id id1  http://127.0.0.1:3001  grpc 127.0.0.1:40001  pid 101');
  t.match(report, 'node-2  id id2  http://127.0.0.1:3002  grpc 127.0.0.1:40002  pid 102');
  t.match(report, 'curl -X PUT http://127.0.0.1:3001/kv/user:1 -d alice');
  t.match(report, 'curl http://127.0.0.1:3002/kv/user:1');
  t.match(report, '/b (removed at exit; --keep keeps it)');
  t.notMatch(readyReport(nodes, '/b', false), 'removed at exit');
});

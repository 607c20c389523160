import { credentials, Client as GrpcClient, logVerbosity } from '@grpc/grpc-js';
import { log as grpcLog } from '@grpc/grpc-js/build/src/logging.js';
import t from 'tap';
import { createLogger, type LogLevel } from '../../src/log/logger.js';
import { parseGrpcLog, routeGrpcLogs } from '../../src/rpc/grpc-logging.js';
import { MembershipService } from '../../src/rpc/services.js';
import { startServer } from '../fixtures/rpc-node.js';

/** A pino logger writing JSON lines into an array, with grpc-js routed to it until the test ends. */
function routed(
  t: { teardown(fn: () => void): void },
  level: LogLevel,
): Record<string, unknown>[] & { undo: () => void } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level,
    destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  });
  const undo = routeGrpcLogs(logger, 60_000);
  t.teardown(undo);
  return Object.assign(lines, { undo });
}

t.test("grpc-js's log calls become pino lines with component grpc, at the mapped level", async (t) => {
  const lines = routed(t, 'info');
  grpcLog(logVerbosity.ERROR, 'Failed to connect to proxy', 'example:3128');
  grpcLog(
    logVerbosity.INFO,
    '2026-12-02T00:00:00.000Z | v1.14.7 4242 | subchannel | 10.0.0.1:50071 IDLE -> CONNECTING',
  );
  grpcLog(logVerbosity.DEBUG, 'not at info');
  t.match(lines, [
    { level: 50, component: 'grpc', msg: 'Failed to connect to proxy example:3128' },
    { level: 30, component: 'grpc', tracer: 'subchannel', msg: '10.0.0.1:50071 IDLE -> CONNECTING' },
  ]);
  t.equal(lines.length, 2, 'debug is below the logger level');
});

t.test('debug lines pass at debug; a flood of one error is one line and a count', async (t) => {
  const lines = routed(t, 'debug');
  grpcLog(logVerbosity.DEBUG, 'Config parsing failed with error', 'bad');
  for (let i = 0; i < 50; i++) grpcLog(logVerbosity.ERROR, 'the same failure');
  t.match(lines, [
    { level: 20, component: 'grpc', msg: 'Config parsing failed with error bad' },
    { level: 50, msg: 'the same failure' },
  ]);
  t.equal(lines.length, 2, 'the other 49 are counted, not written');
  lines.undo(); // writes the pending summary
  t.match(lines[2], { level: 50, repeated: 49, msg: 'the same failure (49 more times)' });
});

t.test('what grpc-js itself logs on a real call arrives too', async (t) => {
  const lines = routed(t, 'info');
  const server = await startServer(t, [[MembershipService, {}]]);
  // An unknown compression algorithm: grpc-js logs an error for each call and sends uncompressed.
  const options: Record<string, unknown> = { 'grpc.default_compression_algorithm': 99 };
  const client = new GrpcClient(server.address, credentials.createInsecure(), options);
  t.teardown(() => client.close());
  await new Promise<void>((resolve) => {
    client.makeUnaryRequest(
      '/lally.Nothing/Here',
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.alloc(0),
      { deadline: Date.now() + 2000 },
      () => resolve(),
    );
  });
  t.match(lines, [{ level: 50, component: 'grpc', msg: /grpc\.default_compression_algorithm.*99/ }]);
});

t.test('parseGrpcLog: trace lines split into tracer and text, others kept whole', async (t) => {
  t.same(parseGrpcLog(['2026-12-02T00:30:11.123Z | v1.14.7 99 | dns_resolver | Resolved a | b']), {
    tracer: 'dns_resolver',
    text: 'Resolved a | b',
  });
  t.same(parseGrpcLog(['plain %s', 'text', 3]), { tracer: undefined, text: 'plain text 3' });
});

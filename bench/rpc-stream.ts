/**
 * Replication throughput on one gRPC stream: records per second, and per core (records per CPU
 * second), for encode + send + decode + ack, with fixed inputs (keys `key:<n>`, 100-byte values by
 * default, batches of 1024, 8 batches in flight).
 *
 *   together  sender and receiver in this process: CPU of both sides on one thread's budget
 *   split     the receiver in a child process: each side's CPU alone (the sender's is what a
 *             coordinator's main thread pays per peer)
 *
 *   npm run build && node dist/bench/rpc-stream.js [--records 1000000] [--value 100] [--batch 1024]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { ReplicaRecord } from '../src/rpc/codec.js';
import { RpcServer } from '../src/rpc/grpc-server.js';
import { PeerPool } from '../src/rpc/peer-pool.js';
import { replicateHandler } from '../src/rpc/replication-service.js';
import { ReplicationStream } from '../src/rpc/replication-stream.js';
import { ReplicationService } from '../src/rpc/services.js';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const RECORDS = option('records', 1_000_000);
const VALUE_BYTES = option('value', 100);
const BATCH = option('batch', 1024);
const IN_FLIGHT = option('in-flight', 8);
/** Records handed to the stream per send, as a ring drain would hand them over. */
const SEND_CHUNK = 4096;

function cpuMs(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
}

async function serve(): Promise<{ server: RpcServer; payloadBytes: () => number }> {
  const server = new RpcServer({ host: '127.0.0.1', port: 0 });
  let bytes = 0;
  const none = () => {};
  server.addService(ReplicationService, {
    // The applier touches every record (a shard would copy it into its ring).
    replicate: replicateHandler((records) => {
      for (const r of records) bytes += r.key.length + r.value.length;
      return { applied: records.length, superseded: 0 };
    }),
    read: none,
    snapshot: none,
    tree: none,
  });
  await server.listen();
  return { server, payloadBytes: () => bytes };
}

function makeRecords(): ReplicaRecord[] {
  const values = Buffer.alloc(RECORDS * VALUE_BYTES, 0x61);
  const records: ReplicaRecord[] = new Array(RECORDS);
  for (let i = 0; i < RECORDS; i++) {
    records[i] = {
      key: Buffer.from(`key:${i}`),
      value: values.subarray(i * VALUE_BYTES, (i + 1) * VALUE_BYTES),
      version: { wall: 1_765_000_000_000 + i, counter: i & 0xff, node: 0x0a1b2c3d },
      tombstone: false,
    };
  }
  return records;
}

async function send(
  address: string,
  records: readonly ReplicaRecord[],
): Promise<{ ms: number; cpu: number }> {
  const pool = new PeerPool();
  const stream = new ReplicationStream(pool.get(address), { maxBatchRecords: BATCH, maxInFlight: IN_FLIGHT });
  // Warm-up: connection, JIT.
  await stream.send(records.slice(0, Math.min(50_000, records.length)));
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  // A window of sends in flight, as a coordinator feeding the stream from its rings would keep.
  const pending = new Set<Promise<unknown>>();
  for (let i = 0; i < records.length; i += SEND_CHUNK) {
    const p = stream.send(records.slice(i, i + SEND_CHUNK));
    pending.add(p);
    void p.then(() => pending.delete(p));
    if (pending.size >= 4) await Promise.race(pending);
  }
  await Promise.all(pending);
  const result = { ms: performance.now() - start, cpu: cpuMs(cpu0) };
  await stream.close();
  pool.closeAll();
  return result;
}

function line(name: string, ms: number, cpu: number, extra = ''): string {
  const rate = RECORDS / (ms / 1000);
  const perCore = RECORDS / (cpu / 1000);
  return `${name.padEnd(9)} ${Math.round(rate).toLocaleString('en').padStart(10)} records/s   ${Math.round(perCore).toLocaleString('en').padStart(10)} records/CPU-s   (${ms.toFixed(0)} ms, CPU ${cpu.toFixed(0)} ms${extra})`;
}

async function main(): Promise<void> {
  if (process.argv.includes('--serve')) {
    const { server } = await serve();
    process.stdout.write(`${server.port}\n`);
    const cpu0 = process.cpuUsage();
    process.stdin.resume();
    process.stdin.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('reset')) Object.assign(cpu0, process.cpuUsage());
      if (chunk.toString().includes('report')) process.stdout.write(`${cpuMs(cpu0)}\n`);
    });
    await once(process.stdin, 'end');
    server.forceShutdown();
    return;
  }
  console.log(
    `rpc-stream: ${RECORDS.toLocaleString('en')} records, ${VALUE_BYTES}-byte values, batches of ${BATCH}, ${IN_FLIGHT} in flight, node ${process.version}`,
  );
  const records = makeRecords();

  const { server, payloadBytes } = await serve();
  const together = await send(`127.0.0.1:${server.port}`, records);
  server.forceShutdown();
  let payload = 0;
  for (const r of records) payload += r.key.length + r.value.length;
  const mib = payload / (together.ms / 1000) / 2 ** 20;
  if (payloadBytes() < payload) throw new Error('the receiver saw fewer bytes than were sent');
  console.log(
    line(
      'together',
      together.ms,
      together.cpu,
      `: sender and receiver; ~${mib.toFixed(0)} MiB/s of keys and values`,
    ),
  );

  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = child.stdout.setEncoding('utf8')[Symbol.asyncIterator]();
  const port = Number((await lines.next()).value);
  const address = `127.0.0.1:${port}`;
  // Warm the receiver, then count its CPU from here.
  await send(address, records.slice(0, 100_000));
  child.stdin.write('reset\n');
  const split = await send(address, records);
  child.stdin.write('report\n');
  const receiverCpu = Number((await lines.next()).value);
  child.stdin.end();
  await once(child, 'exit');
  console.log(line('sender', split.ms, split.cpu, ': receiver in a child process'));
  console.log(line('receiver', split.ms, receiverCpu, ''));
}

await main();

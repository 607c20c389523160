/**
 * How should a thread that also runs an event loop learn that a ring holds work? Compares, between
 * this thread and a real worker thread echoing every message back:
 *
 *   waitAsync  the project's Inbox/Outbox: Atomics.waitAsync on a doorbell, rung only when asleep
 *   port       a MessagePort postMessage as the doorbell, once per batch (a shared "pending" flag)
 *   poll       no doorbell: the consumer drains on every turn of its loop (setImmediate)
 *
 * For each: round-trip latency with one message in flight (p50/p99, microseconds), throughput of a
 * pipelined echo stream (64 messages in flight), with 64-byte and 4 KiB messages, and the CPU the
 * process burns while both threads are idle. Bounded to about 30 s.
 *
 *   npm run build && node dist/bench/ring-wakeup.js [--quick]
 */
import { once } from 'node:events';
import {
  isMainThread,
  MessageChannel,
  type MessagePort,
  parentPort,
  Worker,
  workerData,
} from 'node:worker_threads';
import { Doorbell } from '../src/ring/doorbell.js';
import { Inbox } from '../src/ring/inbox.js';
import { Outbox } from '../src/ring/outbox.js';
import { SpscRing } from '../src/ring/spsc-ring.js';

const STRATEGIES = ['waitAsync', 'waitAsync+spin', 'port', 'poll'] as const;
/** Empty loop turns the 'waitAsync+spin' inbox makes before it parks. */
const SPIN_TURNS = 100;
type Strategy = (typeof STRATEGIES)[number];

const SIZES = [64, 4096];
const RING_BYTES = 1 << 20;
const WINDOW = 64;
const QUICK = process.argv.includes('--quick');
const WARMUP_MS = QUICK ? 100 : 200;
const LATENCY_MS = QUICK ? 300 : 1000;
const THROUGHPUT_MS = QUICK ? 300 : 1000;
const IDLE_MS = QUICK ? 200 : 500;

/** What one side needs; the worker's wiring is the main thread's, mirrored. */
interface Wiring {
  strategy: Strategy;
  rxRing: SharedArrayBuffer;
  txRing: SharedArrayBuffer;
  /** waitAsync: this side's doorbell and the peer's. */
  rxDoorbell: SharedArrayBuffer;
  txDoorbell: SharedArrayBuffer;
  /** port: "a doorbell message is pending" flags, one per direction (Int32 0 or 1). */
  rxPending: SharedArrayBuffer;
  txPending: SharedArrayBuffer;
  port: MessagePort;
}

interface Endpoint {
  send(message: Uint8Array): void;
  close(): Promise<void>;
}

function openEndpoint(wiring: Wiring, onMessage: (message: Uint8Array) => void): Endpoint {
  switch (wiring.strategy) {
    case 'waitAsync':
      return openDoorbellEndpoint(wiring, onMessage, 0);
    case 'waitAsync+spin':
      return openDoorbellEndpoint(wiring, onMessage, SPIN_TURNS);
    case 'port':
      return openPortEndpoint(wiring, onMessage);
    case 'poll':
      return openPollEndpoint(wiring, onMessage);
  }
}

function openDoorbellEndpoint(
  wiring: Wiring,
  onMessage: (message: Uint8Array) => void,
  idleTurnsBeforeSleep: number,
): Endpoint {
  const inbox = new Inbox(wiring.rxDoorbell, onMessage, { idleTurnsBeforeSleep });
  inbox.addRing(0, wiring.rxRing);
  inbox.start();
  const outbox = new Outbox(wiring.txRing, wiring.txDoorbell);
  return {
    send: (message) => {
      if (!outbox.send(message)) throw new Error('outbox refused a message');
    },
    close: async () => {
      outbox.close();
      await inbox.close();
    },
  };
}

function openPortEndpoint(wiring: Wiring, onMessage: (message: Uint8Array) => void): Endpoint {
  const rx = new SpscRing(wiring.rxRing);
  const tx = new SpscRing(wiring.txRing);
  const rxPending = new Int32Array(wiring.rxPending);
  const txPending = new Int32Array(wiring.txPending);
  wiring.port.on('message', () => {
    // Clear before draining: a message written after this load of head posts a new doorbell.
    Atomics.store(rxPending, 0, 0);
    rx.drain(onMessage);
  });
  return {
    send: (message) => {
      if (!tx.tryWrite(message)) throw new Error('ring full (the window should prevent this)');
      if (Atomics.compareExchange(txPending, 0, 0, 1) === 0) wiring.port.postMessage(0);
    },
    close: async () => {
      wiring.port.close();
    },
  };
}

function openPollEndpoint(wiring: Wiring, onMessage: (message: Uint8Array) => void): Endpoint {
  const rx = new SpscRing(wiring.rxRing);
  const tx = new SpscRing(wiring.txRing);
  let open = true;
  const poll = (): void => {
    rx.drain(onMessage);
    if (open) setImmediate(poll);
  };
  setImmediate(poll);
  return {
    send: (message) => {
      if (!tx.tryWrite(message)) throw new Error('ring full (the window should prevent this)');
    },
    close: async () => {
      open = false;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Worker: echo every message back; answer the idle probe; close on request.

async function runWorker(): Promise<void> {
  const wiring = workerData as Wiring;
  let endpoint: Endpoint | undefined;
  endpoint = openEndpoint(wiring, (message) => endpoint?.send(message));
  parentPort?.on('message', async (command: string) => {
    if (command === 'close') {
      await endpoint?.close();
      parentPort?.close();
    }
  });
  parentPort?.postMessage('ready');
}

// ---------------------------------------------------------------------------------------------
// Main: the measurements.

interface Figures {
  strategy: Strategy;
  size: number;
  p50us: number;
  p99us: number;
  messagesPerSecond: number;
}

function percentile(sorted: Float64Array, fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? Number.NaN;
}

/** One echo in flight at a time: send, wait for it, send the next. */
function measureLatency(
  endpoint: Endpoint,
  echoes: EchoSink,
  size: number,
  ms: number,
): Promise<Float64Array> {
  const message = new Uint8Array(size);
  const samples: number[] = [];
  const warmup = 200;
  const deadline = performance.now() + ms;
  return new Promise((resolve) => {
    let sentAt: number;
    echoes.handler = () => {
      const now = performance.now();
      samples.push((now - sentAt) * 1000);
      if (now > deadline && samples.length > warmup) {
        echoes.handler = undefined;
        resolve(Float64Array.from(samples.slice(warmup)).sort());
        return;
      }
      sentAt = performance.now();
      endpoint.send(message);
    };
    sentAt = performance.now();
    endpoint.send(message);
  });
}

/** WINDOW echoes in flight: every echo that comes back sends one more. */
function measureThroughput(endpoint: Endpoint, echoes: EchoSink, size: number, ms: number): Promise<number> {
  const message = new Uint8Array(size);
  return new Promise((resolve) => {
    let received = 0;
    let inFlight = 0;
    const started = performance.now();
    const deadline = started + ms;
    let stopping = false;
    echoes.handler = () => {
      received++;
      inFlight--;
      if (!stopping && (received & 255) === 0 && performance.now() > deadline) stopping = true;
      if (!stopping) {
        endpoint.send(message);
        inFlight++;
      } else if (inFlight === 0) {
        echoes.handler = undefined;
        resolve(received / ((performance.now() - started) / 1000));
      }
    };
    for (; inFlight < WINDOW; inFlight++) endpoint.send(message);
  });
}

/** The main side's message handler, swapped per measurement. */
interface EchoSink {
  handler: ((message: Uint8Array) => void) | undefined;
}

async function idleCpuPercent(): Promise<number> {
  const before = process.cpuUsage();
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  const used = process.cpuUsage(before);
  return ((used.user + used.system) / 1000 / (performance.now() - started)) * 100;
}

async function runStrategy(strategy: Strategy): Promise<{ figures: Figures[]; idleCpu: number }> {
  const toWorker = SpscRing.allocate(RING_BYTES);
  const toMain = SpscRing.allocate(RING_BYTES);
  const mainDoorbell = Doorbell.allocate();
  const workerDoorbell = Doorbell.allocate();
  const toWorkerPending = new SharedArrayBuffer(4);
  const toMainPending = new SharedArrayBuffer(4);
  const { port1, port2 } = new MessageChannel();
  const workerWiring: Wiring = {
    strategy,
    rxRing: toWorker,
    txRing: toMain,
    rxDoorbell: workerDoorbell,
    txDoorbell: mainDoorbell,
    rxPending: toWorkerPending,
    txPending: toMainPending,
    port: port2,
  };
  const worker = new Worker(new URL(import.meta.url), { workerData: workerWiring, transferList: [port2] });
  await once(worker, 'message');
  const echoes: EchoSink = { handler: undefined };
  const endpoint = openEndpoint(
    {
      strategy,
      rxRing: toMain,
      txRing: toWorker,
      rxDoorbell: mainDoorbell,
      txDoorbell: workerDoorbell,
      rxPending: toMainPending,
      txPending: toWorkerPending,
      port: port1,
    },
    (message) => echoes.handler?.(message),
  );
  // Warm the JIT on both sides before anything counts.
  for (const size of SIZES) {
    await measureLatency(endpoint, echoes, size, WARMUP_MS);
    await measureThroughput(endpoint, echoes, size, WARMUP_MS);
  }
  const figures: Figures[] = [];
  for (const size of SIZES) {
    const latencies = await measureLatency(endpoint, echoes, size, LATENCY_MS);
    const messagesPerSecond = await measureThroughput(endpoint, echoes, size, THROUGHPUT_MS);
    figures.push({
      strategy,
      size,
      p50us: percentile(latencies, 0.5),
      p99us: percentile(latencies, 0.99),
      messagesPerSecond,
    });
  }
  const idleCpu = await idleCpuPercent();
  worker.postMessage('close');
  await endpoint.close();
  await worker.terminate();
  return { figures, idleCpu };
}

async function main(): Promise<void> {
  console.log(
    `ring wake-up strategies: echo to a worker thread, ${WINDOW} in flight for throughput, node ${process.version}`,
  );
  console.log('strategy         size   rtt p50 us  rtt p99 us   echoes/s   idle CPU %');
  for (const strategy of STRATEGIES) {
    const { figures, idleCpu } = await runStrategy(strategy);
    for (const f of figures) {
      console.log(
        [
          f.strategy.padEnd(15),
          String(f.size).padStart(5),
          f.p50us.toFixed(1).padStart(11),
          f.p99us.toFixed(1).padStart(11),
          Math.round(f.messagesPerSecond).toString().padStart(10),
          f.size === SIZES[0] ? idleCpu.toFixed(0).padStart(12) : '',
        ].join('  '),
      );
    }
  }
}

if (isMainThread) {
  await main();
} else {
  await runWorker();
}

// The doorbell across real threads: an echo worker with an Inbox and an Outbox, talking to this
// thread's own Inbox and Outbox. A lost wake-up would hang a round, so every wait is bounded.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import t, { type Test } from 'tap';
import { Doorbell } from '../../src/ring/doorbell.js';
import { Inbox } from '../../src/ring/inbox.js';
import { Outbox, type OutboxOptions } from '../../src/ring/outbox.js';
import { SpscRing } from '../../src/ring/spsc-ring.js';
import { workerExecArgv } from '../fixtures/child-env.js';
import { repoPath } from '../fixtures/paths.js';

interface WorkerReport {
  threadId: number;
  from: number;
  refused: number;
  inbox: { messagesReceived: number; sleeps: number };
  outbox: { messagesSent: number; messagesQueued: number; doorbellsRung: number };
}

async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

function payload(index: number): Uint8Array {
  const bytes = Buffer.alloc(4 + (index % 300), index & 0xff);
  bytes.writeUInt32LE(index, 0);
  return bytes;
}

async function startEcho(capacity: number, options: { main?: OutboxOptions; worker?: OutboxOptions } = {}) {
  const workerDoorbellSab = Doorbell.allocate();
  const mainDoorbellSab = Doorbell.allocate();
  const fromMainRing = SpscRing.allocate(capacity);
  const toMainRing = SpscRing.allocate(capacity);
  const echoes: Uint8Array[] = [];
  const inbox = new Inbox(mainDoorbellSab, (message) => echoes.push(message.slice()));
  inbox.addRing(1, toMainRing);
  inbox.start();
  const outbox = new Outbox(fromMainRing, workerDoorbellSab, options.main);
  const worker = new Worker(repoPath('test/fixtures/ring-echo-worker.mjs'), {
    execArgv: workerExecArgv(),
    workerData: {
      inboxDoorbell: workerDoorbellSab,
      fromMainRing,
      toMainRing,
      mainDoorbell: mainDoorbellSab,
      outboxOptions: options.worker,
    },
  });
  const exited = once(worker, 'exit');
  const reports: WorkerReport[] = [];
  worker.on('message', (message: WorkerReport | { ready: true }) => {
    if (!('ready' in message)) reports.push(message);
  });
  worker.on('error', (error) => {
    throw error;
  });
  await once(worker, 'message');
  /** Sends the close message, waits for the report and for the worker to leave on its own. */
  const stop = async (): Promise<{ report: WorkerReport; exitCode: number }> => {
    t.ok(outbox.send(new Uint8Array(0)));
    await until(() => reports.length === 1, 'the worker report');
    const timeout = setTimeout(() => void worker.terminate(), 10_000);
    const [exitCode] = (await exited) as [number];
    clearTimeout(timeout);
    await inbox.close();
    outbox.close();
    return { report: reports[0]!, exitCode };
  };
  return { worker, inbox, outbox, echoes, workerDoorbell: new Doorbell(workerDoorbellSab), stop };
}

function checkEchoes(t: Test, echoes: Uint8Array[], count: number): void {
  t.equal(echoes.length, count, 'every message came back');
  let bad = -1;
  for (let i = 0; i < echoes.length && bad < 0; i++) {
    if (Buffer.compare(echoes[i]!, payload(i)) !== 0) bad = i;
  }
  t.equal(bad, -1, 'in order, byte for byte');
}

t.test('wakes a sleeping worker for every burst, with one doorbell per burst', async (t) => {
  t.setTimeout(60_000);
  const echo = await startEcho(4096);
  const bursts = 200;
  let sent = 0;
  let refused = 0;
  for (let burst = 0; burst < bursts; burst++) {
    // Only send once the worker is parked: every burst must wake it from sleep.
    await until(() => echo.workerDoorbell.isSleeping, `the worker to sleep before burst ${burst}`);
    const size = 1 + (burst % 20);
    for (let i = 0; i < size; i++) if (!echo.outbox.send(payload(sent++))) refused++;
    await until(() => echo.echoes.length === sent, `the echoes of burst ${burst}`);
  }
  const { report, exitCode } = await echo.stop();
  t.equal(refused, 0);
  t.equal(exitCode, 0, 'the worker exited on its own after close');
  checkEchoes(t, echo.echoes, sent);
  t.equal(echo.outbox.stats.doorbellsRung >= bursts, true, 'each burst rang the sleeping worker');
  t.ok(echo.outbox.stats.doorbellsRung < sent, 'not once per message');
  t.ok(report.inbox.sleeps >= bursts, 'the worker slept between bursts');
  t.equal(report.refused, 0);
});

t.test('a stream through small rings: overflow queues, nothing lost or reordered', async (t) => {
  t.setTimeout(60_000);
  const count = 30_000;
  const echo = await startEcho(1024, {
    main: { maxQueuedMessages: count + 1, maxQueuedBytes: 64 * 1024 * 1024 },
    worker: { maxQueuedMessages: count + 1, maxQueuedBytes: 64 * 1024 * 1024 },
  });
  // Send in slices so this thread's inbox also gets turns; the ring holds only a few messages.
  let sent = 0;
  let refused = 0;
  while (sent < count) {
    for (let i = 0; i < 500 && sent < count; i++) if (!echo.outbox.send(payload(sent++))) refused++;
    await new Promise((resolve) => setImmediate(resolve));
  }
  await until(() => echo.echoes.length === count, 'all echoes');
  const { report, exitCode } = await echo.stop();
  t.equal(refused, 0);
  t.equal(exitCode, 0);
  checkEchoes(t, echo.echoes, count);
  t.ok(echo.outbox.stats.messagesQueued > 0, 'the ring did fill (1 KiB against 30k messages)');
  t.equal(echo.outbox.stats.messagesSent, count + 1);
  // The report is taken while the worker handles the close message, which is already counted.
  t.equal(report.inbox.messagesReceived, count + 1);
  t.equal(report.refused, 0);
  t.comment(
    `main outbox: ${JSON.stringify(echo.outbox.stats)}; worker: ${JSON.stringify(report.outbox)}; inbox batches: ${echo.inbox.stats.batches}`,
  );
});

/**
 * One chaos scenario: start a cluster, run the workloads, inject one fault, heal it, wait for the
 * replicas to agree, check. Everything it starts is stopped before it returns (or by `cleanup` hooks
 * the caller runs on an interrupt).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  availability,
  checkDeletes,
  checkLww,
  checkReadYourWrites,
  checkUniqueKeys,
  type DeleteResult,
  type LwwResult,
  type PhaseAvailability,
  type ReadYourWritesResult,
  type UniqueKeysResult,
} from './checkers.js';
import { type ConvergenceResult, waitForConvergence } from './convergence.js';
import { getJson } from './http.js';
import { MemberWatch, type Watch } from './member-watch.js';
import type { Network } from './network.js';
import { ChaosNode } from './node-process.js';
import { freeLoopbackPorts } from './ports.js';
import {
  deleteClient,
  deleteKeys,
  kvCall,
  lwwClient,
  type OpRecord,
  type Phase,
  readYourWritesClient,
  uniqueKeysClient,
  type WorkloadContext,
} from './workloads.js';

export type Fault =
  | { kind: 'none' }
  | { kind: 'kill9'; target: number }
  | { kind: 'pause'; target: number }
  /** `target` cut off from every other node (blackhole routes); `oneWay`: only its outgoing packets. */
  | { kind: 'partition'; target: number; oneWay: boolean }
  /** `target`'s link down: cut off from peers and clients. */
  | { kind: 'isolate'; target: number }
  /**
   * `target`'s wall clock runs `offsetMs` off for the whole run (LALLY_FAULT_CLOCK_OFFSET_MS): nothing
   * is injected or healed; the phases only time the figures.
   */
  | { kind: 'skew'; target: number; offsetMs: number }
  /** A new node (index `nodes`) joins through node 0 under load; the clients use it once it serves. */
  | { kind: 'join' };

export interface ScenarioSpec {
  name: string;
  nodes: number;
  writeQuorum: number;
  readQuorum: number;
  /** Undefined: every node holds every key. */
  replicationFactor?: number;
  quorumTimeoutMs: number;
  shards: number;
  fault: Fault;
  beforeMs: number;
  faultMs: number;
  healedMs: number;
  /** Longest wait for agreement after the workloads stop. */
  convergeMs: number;
  clients: {
    unique: number;
    lww: number;
    registers: number;
    deleteKeys: number;
    deleters: number;
    ryw: number;
  };
  requestTimeoutMs: number;
  seed: number;
}

export interface Detection {
  observer: number;
  subject: number;
  suspectMs: number | null;
  deadMs: number | null;
  /** From the heal until the observer saw the subject alive again. */
  aliveAgainMs: number | null;
}

export interface ScenarioResult {
  name: string;
  fault: Fault;
  network: Network['kind'];
  config: { nodes: number; N: number; W: number; R: number; quorumTimeoutMs: number; shards: number };
  startedAt: string;
  durationMs: number;
  operations: number;
  availability: Record<'before' | 'fault' | 'healed', PhaseAvailability>;
  detection: Detection[];
  /** kill9: how long the restarted node took to serve HTTP again; join: how long the joiner took to. */
  restartMs: number | null;
  convergence: Omit<ConvergenceResult, 'final'>;
  unique: UniqueKeysResult;
  lww: LwwResult;
  deletes: DeleteResult;
  readYourWrites: ReadYourWritesResult;
  /** Each node's `GET /stats` `replication` at the end (null: unreadable). */
  replication: (Record<string, unknown> | null)[];
  faultAtMs: number;
  healedAtMs: number;
  /** The node logs, and `ops.ndjson` (every operation); removed after the run unless kept. */
  logDir: string;
}

export interface ScenarioEnv {
  network: Network;
  /** Per-run directory for data dirs and node logs. */
  dir: string;
  /** Registers a synchronous undo, run on interrupts too. */
  onCleanup(fn: () => void): void;
  log(line: string): void;
}

/** A small deterministic generator (mulberry32), so a seed picks the same nodes and keys. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Longer than replication takes on a loaded host, and than the AOF's `everysec` window. */
export const SETTLE_MS = 1500;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitForMembership(nodes: readonly ChaosNode[], limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const views = await Promise.all(
      nodes.map((n) => getJson<{ members?: { state: string }[] }>(`${n.url}/cluster`, 1000)),
    );
    if (
      views.every((v) => v?.members?.length === nodes.length && v.members.every((m) => m.state === 'alive'))
    ) {
      return;
    }
    if (Date.now() > deadline)
      throw new Error(`the ${nodes.length} nodes did not all see each other alive in ${limitMs} ms`);
    await sleep(100);
  }
}

/** The nodes a fault takes away (a skewed node or a joiner stays available). */
function targetOf(fault: Fault): number[] {
  return fault.kind === 'none' || fault.kind === 'skew' || fault.kind === 'join' ? [] : [fault.target];
}

export async function runScenario(spec: ScenarioSpec, env: ScenarioEnv): Promise<ScenarioResult> {
  const { network } = env;
  const startedMs = Date.now();
  const logDir = join(env.dir, spec.name);
  await mkdir(logDir, { recursive: true });
  const flags = [
    '--shards',
    String(spec.shards),
    '--write-quorum',
    String(spec.writeQuorum),
    '--read-quorum',
    String(spec.readQuorum),
    '--quorum-timeout-ms',
    String(spec.quorumTimeoutMs),
    ...(spec.replicationFactor === undefined ? [] : ['--replication-factor', String(spec.replicationFactor)]),
  ];
  const nodes: ChaosNode[] = [];
  const joining = spec.fault.kind === 'join';
  const skew = spec.fault.kind === 'skew' ? spec.fault : undefined;
  const count = spec.nodes + (joining ? 1 : 0);
  const loopback = network.kind === 'loopback';
  // On loopback every node has its own HTTP and gRPC port; in namespaces each has its own address.
  const ports = loopback ? await freeLoopbackPorts(2 * count) : [];
  for (let i = 0; i < count; i++) {
    const netns = network.netnsOf(i);
    nodes.push(
      new ChaosNode({
        index: i,
        host: network.hostOf(i),
        httpPort: loopback ? ports[2 * i]! : 3000,
        grpcPort: loopback ? ports[2 * i + 1]! : 50071,
        dataDir: join(logDir, `node-${i}`),
        logFile: join(logDir, `node-${i}.log`),
        ...(netns === undefined ? {} : { netns }),
        args: flags,
        ...(skew?.target === i ? { env: { LALLY_FAULT_CLOCK_OFFSET_MS: String(skew.offsetMs) } } : {}),
      }),
    );
  }
  env.onCleanup(() => {
    for (const n of nodes) n.killNow();
  });
  // The joiner's URL is added once it serves: clients, the convergence poll and the final reads use it.
  const members = nodes.slice(0, spec.nodes);
  const urls = members.map((n) => n.url);
  const ops: OpRecord[] = [];
  let phase: Phase = 'setup';
  let stopped = false;
  const random = seeded(spec.seed);
  const ctx: WorkloadContext = {
    urls,
    phase: () => phase,
    stopped: () => stopped,
    record: (op) => ops.push(op),
    timeoutMs: spec.requestTimeoutMs,
    random,
  };
  let watch: MemberWatch | undefined;
  try {
    await nodes[0]!.start();
    await Promise.all(members.slice(1).map((n) => n.start(nodes[0]!.address)));
    await waitForMembership(members, 20_000);
    env.log(`${spec.name}: ${spec.nodes} nodes up (${network.kind})`);

    const dKeys = deleteKeys(spec.clients.deleteKeys);
    for (const key of dKeys) await kvCall(ctx, 'delete', 'put', key, 0, `gone-${key}`);
    // Let the setup writes reach every replica (W may be below N) before anything fails.
    await sleep(300);

    const loops: Promise<void>[] = [];
    phase = 'before';
    for (let c = 0; c < spec.clients.unique; c++) loops.push(uniqueKeysClient(ctx, c));
    for (let c = 0; c < spec.clients.lww; c++) loops.push(lwwClient(ctx, c, spec.clients.registers));
    const cursor = { next: 0 };
    for (let c = 0; c < spec.clients.deleters; c++) loops.push(deleteClient(ctx, dKeys, cursor));
    for (let c = 0; c < spec.clients.ryw; c++) loops.push(readYourWritesClient(ctx, c));
    await sleep(spec.beforeMs);

    const faulted = targetOf(spec.fault);
    const watches: Watch[] = [];
    for (const subject of faulted) {
      for (let o = 0; o < spec.nodes; o++) if (o !== subject) watches.push({ observer: o, subject });
    }
    // In a partition the cut-off node is reachable by the harness: watch its view of a peer too.
    if (spec.fault.kind === 'partition') {
      watches.push({ observer: spec.fault.target, subject: (spec.fault.target + 1) % spec.nodes });
    }
    watch = new MemberWatch(
      urls,
      nodes.map((n) => n.address),
      watches,
    );

    const faultAtMs = Date.now();
    phase = 'fault';
    const f = spec.fault;
    if (f.kind === 'kill9') await nodes[f.target]!.kill9();
    else if (f.kind === 'pause') nodes[f.target]!.pause();
    else if (f.kind === 'partition') {
      for (let o = 0; o < spec.nodes; o++) if (o !== f.target) network.partition(f.target, o, f.oneWay);
    } else if (f.kind === 'isolate') network.linkDown(f.target);
    let restartMs: number | null = null;
    if (f.kind === 'join') {
      const joiner = nodes[spec.nodes]!;
      const t0 = Date.now();
      await joiner.start(nodes[0]!.address, spec.faultMs + 30_000);
      restartMs = Date.now() - t0;
      urls.push(joiner.url);
    }
    env.log(`${spec.name}: fault ${f.kind} injected`);
    await sleep(Math.max(0, faultAtMs + spec.faultMs - Date.now()));

    if (f.kind === 'kill9') {
      const t0 = Date.now();
      await nodes[f.target]!.start();
      restartMs = Date.now() - t0;
    } else if (f.kind === 'pause') nodes[f.target]!.resume();
    else if (f.kind !== 'skew' && f.kind !== 'join') network.heal();
    const healedAtMs = Date.now();
    phase = 'healed';
    env.log(`${spec.name}: healed`);

    const lastWrite = new Map<string, number>();
    const checkedKeys = () => {
      for (const op of ops) {
        if (op.workload === 'ryw' || op.kind === 'get') continue;
        const seen = lastWrite.get(op.key) ?? 0;
        if (op.endMs > seen) lastWrite.set(op.key, op.endMs);
      }
      return lastWrite;
    };
    let writersDoneAtMs = Number.POSITIVE_INFINITY;
    const converging = waitForConvergence({
      urls,
      keys: checkedKeys,
      healedAtMs,
      writersDone: () => Number.isFinite(writersDoneAtMs),
      deadlineMs: () => writersDoneAtMs + spec.convergeMs,
      everyMs: 500,
      duringLoad: spec.readQuorum === 1,
    });
    await sleep(spec.healedMs);
    stopped = true;
    await Promise.all(loops);
    writersDoneAtMs = Date.now();
    const convergence = await converging;
    await watch.stop();
    env.log(`${spec.name}: ${convergence.allAgreedMs === null ? 'not converged' : 'converged'}`);

    const detection: Detection[] = watches.map((w) => ({
      ...w,
      suspectMs: watch!.firstAfter(w, 'suspect', faultAtMs, healedAtMs),
      deadMs: watch!.firstAfter(w, 'dead', faultAtMs, healedAtMs),
      aliveAgainMs: watch!.firstAfter(w, 'alive', healedAtMs),
    }));
    const replication = await Promise.all(
      urls.map(async (url) => {
        const stats = await getJson<{ replication?: Record<string, unknown> }>(`${url}/stats`, 2000);
        return stats?.replication ?? null;
      }),
    );
    const { final, ...convergenceFigures } = convergence;
    await writeFile(join(logDir, 'ops.ndjson'), ops.map((op) => JSON.stringify(op)).join('\n'));
    await writeFile(
      join(logDir, 'final.ndjson'),
      [...final].map(([key, values]) => JSON.stringify({ key, values })).join('\n'),
    );
    const n = spec.replicationFactor ?? spec.nodes;
    return {
      name: spec.name,
      fault: spec.fault,
      network: network.kind,
      config: {
        nodes: spec.nodes,
        N: n,
        W: spec.writeQuorum,
        R: spec.readQuorum,
        quorumTimeoutMs: spec.quorumTimeoutMs,
        shards: spec.shards,
      },
      startedAt: new Date(startedMs).toISOString(),
      durationMs: Date.now() - startedMs,
      operations: ops.length,
      availability: availability(ops, faulted),
      detection,
      restartMs,
      convergence: convergenceFigures,
      unique: checkUniqueKeys(ops, final, { faultAtMs, healedAtMs, settleMs: SETTLE_MS }),
      lww: checkLww(ops, final),
      deletes: checkDeletes(ops, final),
      readYourWrites: checkReadYourWrites(ops, spec.readQuorum + spec.writeQuorum > n),
      replication,
      faultAtMs,
      healedAtMs,
      logDir,
    };
  } finally {
    stopped = true;
    await watch?.stop();
    try {
      network.heal();
    } catch {
      // cleanup() retries whatever did not undo here
    }
    for (const n of nodes) n.resume();
    await Promise.all(nodes.map((n) => n.stop(5000)));
    for (const n of nodes) n.closeLog();
  }
}

import { type Logger, pino } from 'pino';
import t, { type Test } from 'tap';
import type { AofWrite } from '../../src/aof/types.js';
import { HybridLogicalClock, type Version } from '../../src/clock/hlc.js';
import { ErrorCodes, LallyError } from '../../src/errors.js';
import type { HopLink } from '../../src/hop/hop-link.js';
import {
  emptyHopHeader,
  HOP_HEADER_BYTES,
  HopHeaderWriter,
  HopKind,
  HopStatus,
  hopValue,
  readHopHeader,
} from '../../src/hop/hop-messages.js';
import type { OpKind, OpResult } from '../../src/kv/key-value-service.js';
import { valueText } from '../../src/kv/value-input.js';
import { Doorbell } from '../../src/ring/doorbell.js';
import { Inbox } from '../../src/ring/inbox.js';
import { Outbox } from '../../src/ring/outbox.js';
import { SpscRing } from '../../src/ring/spsc-ring.js';
import { ShardEngine, type WriteAheadLog } from '../../src/shard/shard-engine.js';
import { ShardRouter } from '../../src/shard/shard-router.js';

/** The three stamp fields of a version (a local read answers with the store's entry, which has more). */
function stampOf(version: Version | undefined): Version | undefined {
  return version === undefined
    ? undefined
    : { wall: version.wall, counter: version.counter, node: version.node };
}

import { ShardStore } from '../../src/store/shard-store.js';
import { allocateTableBuffers, stripeOf, tableHash, Utf8Buffer } from '../../src/store/table-layout.js';
import { TableReader } from '../../src/store/table-reader.js';

const NOW = 1_700_000_000_000;
const silent = pino({ level: 'silent' });

/** A logger whose lines the test can read. */
function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { logger, lines };
}

/** An in-memory link: copies the parts into one message and delivers it later, like a ring would. */
class MemoryLink implements HopLink {
  readonly sent: Uint8Array[] = [];
  accept = true;
  deliver = true;
  constructor(
    readonly from: number,
    readonly target: () => ShardRouter | undefined,
  ) {}

  send(first: Uint8Array, second?: Uint8Array, third?: Uint8Array): boolean {
    if (!this.accept) return false;
    const parts = [first, second, third].filter((p): p is Uint8Array => p !== undefined);
    const message = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let offset = 0;
    for (const part of parts) {
      message.set(part, offset);
      offset += part.byteLength;
    }
    this.sent.push(message);
    if (this.deliver) {
      const target = this.target();
      queueMicrotask(() => target?.receive(this.from, message));
    }
    return true;
  }
}

interface Node {
  router: ShardRouter;
  engine: ShardEngine;
  store: ShardStore;
  /** links[n]: from this shard to shard n. */
  links: (MemoryLink | undefined)[];
}

function buildCluster(
  shards: number,
  opts: {
    logger?: Logger;
    wal?: (shard: number) => WriteAheadLog | undefined;
    readQuorum?: number;
    writeQuorum?: number;
    /** Stores in shared tables that the other shards read for GETs (as in a daemon). */
    directReads?: boolean;
  } = {},
): Node[] {
  const nodes: Node[] = [];
  const tables = opts.directReads ? Array.from({ length: shards }, () => allocateTableBuffers()) : undefined;
  for (let shard = 0; shard < shards; shard++) {
    const store = new ShardStore(tables?.[shard]);
    const engine = new ShardEngine({
      shard,
      store,
      clock: new HybridLogicalClock(shard + 1, () => NOW),
      wal: opts.wal?.(shard),
    });
    const links = Array.from({ length: shards }, (_, to) =>
      to === shard ? undefined : new MemoryLink(shard, () => nodes[to]?.router),
    );
    const router = new ShardRouter({
      engine,
      shard,
      shards,
      links,
      logger: opts.logger ?? silent,
      readQuorum: opts.readQuorum,
      writeQuorum: opts.writeQuorum,
      peerTables: tables?.map((buffers, n) => (n === shard ? undefined : new TableReader(buffers))),
    });
    nodes.push({ router, engine, store, links });
  }
  return nodes;
}

/** Keys owned by each shard, found with the router's own ownerOf. */
function keysByOwner(router: ShardRouter, perShard: number, prefix = 'key'): string[][] {
  const found: string[][] = Array.from({ length: router.shards }, () => []);
  for (let i = 0; found.some((keys) => keys.length < perShard); i++) {
    if (i > 100_000) throw new Error('could not find keys for every shard');
    const key = `${prefix}-${i}-ü`;
    const owned = found[router.ownerOf(key)]!;
    if (owned.length < perShard) owned.push(key);
  }
  return found;
}

/** Runs one operation; tells whether the callback ran before execute returned. */
function run(
  router: ShardRouter,
  op: OpKind,
  key: string,
  value?: string,
): Promise<{ result: OpResult; sync: boolean }> {
  return new Promise((resolve) => {
    let returned = false;
    router.execute(op, key, value, (result) => resolve({ result, sync: !returned }));
    returned = true;
  });
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

function nodeAt<T>(list: readonly T[], index: number): T {
  const item = list[index];
  if (item === undefined) throw new Error(`no item ${index}`);
  return item;
}

t.test('ownerOf', async (t) => {
  const single = buildCluster(1)[0]!.router;
  t.equal(single.ownerOf('anything'), 0, 'one shard owns every key');
  const [a, b] = buildCluster(2);
  const keys = keysByOwner(a!.router, 20);
  for (const [owner, list] of keys.entries()) {
    for (const key of list) {
      t.equal(a!.router.ownerOf(key), owner);
      t.equal(b!.router.ownerOf(key), owner, 'every router agrees on the owner');
    }
  }
});

for (const shards of [2, 3]) {
  t.test(`${shards} shards: put, get, remove of every shard's keys from every router`, async (t) => {
    const nodes = buildCluster(shards);
    const keys = keysByOwner(nodes[0]!.router, 2);
    for (const [from, node] of nodes.entries()) {
      for (const [owner, owned] of keys.entries()) {
        const key = `${owned[0]!}-from-${from}`;
        // Re-find an owned key with this suffix: the suffix changes the hash.
        const ownedKey = keysByOwner(node.router, 1, key)[owner]![0]!;
        const local = owner === from;
        const value = `värde ✓ 𝄞 ${from}->${owner}`;
        const ownerStore = nodeAt(nodes, owner).store;

        const miss = await run(node.router, 'get', ownedKey);
        t.equal(miss.sync, local, `get ${from}->${owner}: sync only when local`);
        t.same(
          miss.result,
          {
            found: false,
            value: undefined,
            version: undefined,
            error: undefined,
            quorum: { required: 1, achieved: 1 },
          },
          'a missing key',
        );

        const put = await run(node.router, 'put', ownedKey, value);
        t.equal(put.sync, local, `put ${from}->${owner}: sync only when local`);
        t.equal(put.result.error, undefined);
        t.equal(put.result.found, true);
        const stored = ownerStore.get(ownedKey);
        t.equal(stored?.value, value, 'the owner stores the value');
        t.same(put.result.version, stored?.version, 'the put answers the stored version');
        t.equal(stored?.version.node, owner + 1, "the owner's clock stamped it");
        for (const [other, otherNode] of nodes.entries()) {
          if (other !== owner) t.equal(otherNode.store.get(ownedKey), undefined, 'no other shard has it');
        }

        const got = await run(node.router, 'get', ownedKey);
        t.equal(got.sync, local);
        t.equal(got.result.found, true);
        t.equal(got.result.value, value, 'multi-byte UTF-8 survives the hop');
        t.same(
          stampOf(got.result.version),
          stored?.version,
          'the stored version (a local read passes the entry itself)',
        );
        t.equal(got.result.error, undefined);
        t.equal(got.result.version?.wall, NOW, 'local and remote reads carry the version');

        const removed = await run(node.router, 'remove', ownedKey);
        t.equal(removed.sync, local);
        t.same(
          removed.result,
          {
            found: true,
            value,
            version: ownerStore.getWithTombstone(ownedKey)?.version,
            error: undefined,
            quorum: { required: 1, achieved: 1 },
          },
          'remove answers the previous value and the tombstone version',
        );
        t.equal(ownerStore.get(ownedKey), undefined, 'removed');
        t.equal(ownerStore.getWithTombstone(ownedKey)?.tombstone, true);

        const again = await run(node.router, 'remove', ownedKey);
        t.equal(again.result.found, false, 'removing a missing key finds nothing');
        t.equal(again.result.value, undefined);
        t.equal(again.result.error, undefined);
        t.ok(again.result.version, 'it still answers the version of the delete');

        const gone = await run(node.router, 'get', ownedKey);
        t.same(gone.result, {
          found: false,
          value: undefined,
          version: undefined,
          error: undefined,
          quorum: { required: 1, achieved: 1 },
        });
      }
    }
    for (const node of nodes) t.equal(node.router.pendingCount, 0, 'nothing left waiting');
    const hopsOut = nodes.reduce((n, node) => n + node.router.counters.hopsOut, 0);
    const hopsIn = nodes.reduce((n, node) => n + node.router.counters.hopsIn, 0);
    // Each router ran 6 operations on each of the other shards' keys.
    t.equal(hopsOut, shards * (shards - 1) * 6);
    t.equal(hopsIn, hopsOut, 'every hop out was served by another shard');
    for (const node of nodes) t.equal(node.router.counters.busy, 0);
  });
}

t.test('the empty string is a value, locally and over the hop', async (t) => {
  const [a, b] = buildCluster(2);
  const keys = keysByOwner(a!.router, 1);
  const localKey = keys[0]![0]!;
  const remoteKey = keys[1]![0]!;
  for (const key of [localKey, remoteKey]) {
    await run(a!.router, 'put', key, '');
    const got = await run(a!.router, 'get', key);
    t.equal(got.result.found, true, `${key}: found`);
    t.equal(got.result.value, '', `${key}: the empty string, not undefined`);
    const removed = await run(a!.router, 'remove', key);
    t.equal(removed.result.found, true, 'removing an empty value removes a live value');
    t.equal(removed.result.value, '');
  }
  t.equal(b!.store.size, 0);
  t.equal(b!.store.tombstones, 1);
});

t.test('a put without a value stores the empty string', async (t) => {
  const [a] = buildCluster(1);
  const put = await run(a!.router, 'put', 'k');
  t.equal(put.result.found, true);
  t.equal(put.result.value, undefined, 'a local put answers no value');
  t.equal(a!.store.get('k')?.value, '');
});

t.test('remove answers the value it replaced, from every shard', async (t) => {
  const nodes = buildCluster(3);
  const keys = keysByOwner(nodes[0]!.router, 1);
  for (const [owner, owned] of keys.entries()) {
    const key = owned[0]!;
    await run(nodes[0]!.router, 'put', key, 'first');
    await run(nodes[1]!.router, 'put', key, 'second');
    const removed = await run(nodes[2]!.router, 'remove', key);
    t.equal(removed.result.value, 'second', `owner ${owner}: the latest value`);
    t.equal(removed.result.found, true);
  }
});

t.test('stats asks another shard for its statsProvider text', async (t) => {
  const [a, b, c] = buildCluster(3);
  b!.router.statsProvider = () => '{"id":1,"keys":7,"name":"ß"}';
  const answer = await new Promise<[string | undefined, LallyError | undefined]>((resolve) => {
    let returned = false;
    a!.router.stats(1, (json, error) => {
      t.equal(returned, true, 'answered later');
      resolve([json, error]);
    });
    returned = true;
  });
  t.same(answer, ['{"id":1,"keys":7,"name":"ß"}', undefined]);
  t.equal(b!.router.counters.hopsIn, 1);
  t.equal(a!.router.counters.hopsOut, 1);
  const defaults = await new Promise<string | undefined>((resolve) =>
    a!.router.stats(2, (json) => resolve(json)),
  );
  t.equal(defaults, '{}', 'the default provider answers an empty object');
  t.equal(c!.router.counters.hopsIn, 1);
});

t.test('a link that refuses a message: BUSY at once', async (t) => {
  const [a, b] = buildCluster(2);
  const remoteKey = keysByOwner(a!.router, 1)[1]![0]!;
  a!.links[1]!.accept = false;
  for (const [i, op] of (['get', 'put', 'remove'] as const).entries()) {
    const { result, sync } = await run(a!.router, op, remoteKey, 'v');
    t.equal(sync, true, `${op}: answered before execute returned`);
    t.ok(result.error instanceof LallyError);
    t.equal(result.error?.code, ErrorCodes.BUSY);
    t.equal(result.error?.message, 'shard 1 is overloaded (its ring is full); retry');
    t.equal(result.found, false);
    t.equal(a!.router.counters.busy, i + 1);
  }
  const stats = await new Promise<LallyError | undefined>((resolve) =>
    a!.router.stats(1, (_json, error) => resolve(error)),
  );
  t.equal(stats?.code, ErrorCodes.BUSY, 'stats too');
  t.equal(a!.router.counters.busy, 4);
  t.equal(a!.router.counters.hopsOut, 0, 'refused messages are not hops');
  t.equal(a!.router.pendingCount, 0, 'nothing waits for a refused message');
  t.equal(b!.router.counters.hopsIn, 0);
  a!.links[1]!.accept = true;
  const ok = await run(a!.router, 'put', remoteKey, 'v');
  t.equal(ok.result.error, undefined, 'works again once the link takes messages');
});

t.test('no link to the owner: an internal error at once', async (t) => {
  const store = new ShardStore();
  const engine = new ShardEngine({
    shard: 0,
    store,
    clock: new HybridLogicalClock(1),
    wal: undefined,
  });
  const router = new ShardRouter({ engine, shard: 0, shards: 2, links: [undefined], logger: silent });
  const remoteKey = keysByOwner(router, 1)[1]![0]!;
  const { result, sync } = await run(router, 'get', remoteKey);
  t.equal(sync, true);
  t.equal(result.error?.code, ErrorCodes.INTERNAL);
  t.equal(result.error?.message, 'no link from shard 0 to shard 1');
});

t.test('an engine that throws in the owner shard: the requester gets its code through the hop', async (t) => {
  const { logger, lines } = capturingLogger();
  const [a, b] = buildCluster(2, { logger });
  const remoteKey = keysByOwner(a!.router, 1)[1]![0]!;
  b!.engine.put = () => {
    throw new LallyError(ErrorCodes.AOF_IO, 'disk on fire\nsecond line');
  };
  // A GET reads the store directly (its value's bytes, src/shard/shard-router.ts #getLocal).
  b!.engine.store.liveOffset = () => {
    throw new Error('plain failure');
  };
  b!.engine.remove = () => {
    throw 'a string';
  };
  const put = await run(a!.router, 'put', remoteKey, 'v');
  t.equal(put.sync, false);
  t.ok(put.result.error instanceof LallyError);
  t.equal(put.result.error?.code, ErrorCodes.AOF_IO, 'the code crosses the hop');
  t.equal(put.result.error?.message, 'disk on fire\nsecond line', 'the whole message after the code');
  t.same(
    { found: put.result.found, value: put.result.value, version: put.result.version },
    { found: false, value: undefined, version: undefined },
  );

  const get = await run(a!.router, 'get', remoteKey);
  t.equal(get.result.error?.code, ErrorCodes.INTERNAL, 'a plain error is internal');
  t.equal(get.result.error?.message, 'plain failure');

  const remove = await run(a!.router, 'remove', remoteKey);
  t.equal(remove.result.error?.code, ErrorCodes.INTERNAL);
  t.equal(remove.result.error?.message, 'a string');

  // One line per error code per second: the REMOVE's INTERNAL repeats the GET's and is held back.
  const failures = lines.filter((line) => line.msg === 'operation failed');
  t.same(
    failures.map((line) => [line.op, line.key, line.level, line.code]),
    [
      ['put', remoteKey, 50, ErrorCodes.AOF_IO],
      ['get', remoteKey, 50, ErrorCodes.INTERNAL],
    ],
    'the owner logs each code once',
  );
  t.equal(failures[0]!.err, undefined, 'an expected failure (a LallyError) is logged without a stack');
  t.equal(failures[0]!.error, 'disk on fire\nsecond line');
  t.match(failures[1]!.err, { stack: /plain failure/ }, 'a bug keeps its stack');

  // The same failure on a local key answers at once with the same code.
  const local = await run(b!.router, 'put', remoteKey, 'v');
  t.equal(local.sync, true);
  t.equal(local.result.error?.code, ErrorCodes.AOF_IO);
  t.equal(a!.router.pendingCount, 0);
});

t.test('decoding error answers', async (t) => {
  const [a, b] = buildCluster(2);
  const remoteKey = keysByOwner(a!.router, 1)[1]![0]!;
  a!.links[1]!.deliver = false; // requests are recorded, not served: the test answers them
  const header = emptyHopHeader();
  const answers = [
    ['LALLY_ERR_BUSY', ErrorCodes.BUSY, 'failed in another shard'],
    ['LALLY_ERR_NOT_A_CODE\nfrom a newer peer', ErrorCodes.INTERNAL, 'from a newer peer'],
    ['', ErrorCodes.INTERNAL, 'failed in another shard'],
  ] as const;
  for (const [text, code, message] of answers) {
    const settled = run(a!.router, 'get', remoteKey);
    const request = a!.links[1]!.sent.at(-1)!;
    const { requestId } = readHopHeader(request, header);
    const body = Buffer.from(text, 'utf8');
    const answerHeader = new HopHeaderWriter().write(
      HopKind.RESULT,
      HopStatus.ERROR,
      requestId,
      undefined,
      0,
      body.length,
    );
    a!.router.receive(1, Buffer.concat([answerHeader, body]));
    const { result } = await settled;
    t.equal(result.error?.code, code, `${JSON.stringify(text)}: code`);
    t.equal(result.error?.message, message);
  }
  t.equal(b!.router.counters.hopsIn, 0);
});

t.test('request messages carry kind, increasing ids, key and value', async (t) => {
  const [a] = buildCluster(2);
  const remoteKey = keysByOwner(a!.router, 1)[1]![0]!;
  const link = a!.links[1]!;
  link.deliver = false;
  a!.router.execute('get', remoteKey, undefined, () => {});
  a!.router.execute('put', remoteKey, 'välue', () => {});
  a!.router.execute('remove', remoteKey, undefined, () => {});
  a!.router.stats(1, () => {});
  t.equal(link.sent.length, 4);
  const headers = link.sent.map((message) => ({ ...readHopHeader(message, emptyHopHeader()) }));
  t.same(
    headers.map((h) => [h.kind, h.status, h.requestId, h.wall, h.counter, h.node]),
    [
      [HopKind.GET, HopStatus.OK, 1, 0, 0, 0],
      [HopKind.PUT, HopStatus.OK, 2, 0, 0, 0],
      [HopKind.REMOVE, HopStatus.OK, 3, 0, 0, 0],
      [HopKind.STATS, HopStatus.OK, 4, 0, 0, 0],
    ],
  );
  const keyBytes = Buffer.byteLength(remoteKey, 'utf8');
  t.same(
    headers.map((h) => [h.keyLength, h.valueLength]),
    [
      [keyBytes, 0],
      [keyBytes, Buffer.byteLength('välue')],
      [keyBytes, 0],
      [0, 0],
    ],
  );
  t.equal(hopValue(link.sent[1]!, headers[1]!), 'välue');
  t.equal(link.sent[0]!.byteLength, HOP_HEADER_BYTES + keyBytes);
  t.equal(a!.router.pendingCount, 4);
  t.equal(a!.router.counters.hopsOut, 4);
});

t.test('an answer for an unknown request id is counted and ignored', async (t) => {
  const { logger, lines } = capturingLogger();
  const [a] = buildCluster(2, { logger });
  const remoteKey = keysByOwner(a!.router, 1)[1]![0]!;
  a!.links[1]!.deliver = false;
  let calls = 0;
  a!.router.execute('get', remoteKey, undefined, () => calls++);
  const header = new HopHeaderWriter().write(HopKind.RESULT, HopStatus.OK, 999, undefined, 0, 0);
  a!.router.receive(1, header.slice());
  t.equal(calls, 0, 'the waiting request is not answered');
  t.equal(a!.router.pendingCount, 1);
  // A late answer (its hop timed out) is normal under load: counted, not logged per answer.
  t.same(lines, []);
  t.equal(a!.router.counters.lateAnswers, 1);
  t.equal(a!.router.counters.hopsIn, 0, 'answers are not hops in');
  // The real answer still matches.
  a!.router.receive(1, new HopHeaderWriter().write(HopKind.RESULT, HopStatus.MISSING, 1, undefined, 0, 0));
  t.equal(calls, 1);
  t.equal(a!.router.pendingCount, 0);
  // A duplicate of it is now unknown.
  a!.router.receive(1, new HopHeaderWriter().write(HopKind.RESULT, HopStatus.OK, 1, undefined, 0, 0));
  t.equal(calls, 1);
  t.equal(a!.router.counters.lateAnswers, 2);
  t.equal(a!.router.inFlightTo(1), 0, 'an unknown answer does not touch the in-flight count');
});

t.test('a truncated message is dropped', async (t) => {
  const { logger, lines } = capturingLogger();
  const [a, b] = buildCluster(2, { logger });
  const request = new HopHeaderWriter().write(HopKind.STATS, HopStatus.OK, 5, undefined, 0, 0);
  b!.router.receive(0, request.slice(0, HOP_HEADER_BYTES - 1));
  b!.router.receive(0, new Uint8Array(0));
  t.equal(b!.router.counters.hopsIn, 0);
  t.equal(b!.links[0]!.sent.length, 0, 'nothing is answered');
  t.same(
    lines.map((line) => [line.level, line.msg, line.from, line.bytes]),
    [
      [50, 'dropped a truncated hop message', 0, 31],
      [50, 'dropped a truncated hop message', 0, 0],
    ],
  );
  await tick();
  t.equal(a!.router.pendingCount, 0);
});

t.test('an unknown hop kind is answered with an error', async (t) => {
  const { logger, lines } = capturingLogger();
  const [a, b] = buildCluster(2, { logger });
  const link = b!.links[0]!;
  link.deliver = false;
  const request = new HopHeaderWriter().write(0x42 as HopKind, HopStatus.OK, 77, undefined, 0, 0);
  b!.router.receive(0, request.slice());
  t.equal(b!.router.counters.hopsIn, 1);
  t.equal(link.sent.length, 1);
  const answer = link.sent[0]!;
  const header = readHopHeader(answer, emptyHopHeader());
  t.same(
    [header.kind, header.status, header.requestId, header.keyLength],
    [HopKind.RESULT, HopStatus.ERROR, 77, 0],
  );
  t.equal(hopValue(answer, header), 'LALLY_ERR_INTERNAL\nunknown hop kind 66');
  t.same(
    lines.map((line) => [line.level, line.msg, line.from, line.kind]),
    [[50, 'unknown hop message kind', 0, 0x42]],
  );
  t.equal(a!.router.counters.hopsOut, 0);
});

t.test('an answer that cannot be sent back (a closed link) is logged', async (t) => {
  const { logger, lines } = capturingLogger();
  const [a, b] = buildCluster(2, { logger });
  const remoteKey = keysByOwner(a!.router, 1)[1]![0]!;
  b!.links[0]!.accept = false;
  let called = false;
  a!.router.execute('put', remoteKey, 'v', () => {
    called = true;
  });
  await tick();
  t.equal(called, false, 'the requester still waits (its client times out)');
  t.equal(b!.store.get(remoteKey)?.value, 'v', 'the write was applied');
  t.same(
    lines.map((line) => [line.level, line.msg, line.to, line.requestId]),
    [[40, 'could not send an answer to another shard: its link is closed', 0, 1]],
  );
});

t.test('failPending fails every waiting callback with the given code', async (t) => {
  const [a] = buildCluster(3);
  const keys = keysByOwner(a!.router, 2);
  for (const link of a!.links) if (link) link.deliver = false;
  const results: OpResult[] = [];
  for (const key of [...keys[1]!, ...keys[2]!])
    a!.router.execute('get', key, undefined, (r) => results.push(r));
  let statsError: LallyError | undefined;
  a!.router.stats(1, (_json, error) => {
    statsError = error;
  });
  t.equal(a!.router.pendingCount, 5);
  a!.router.failPending(ErrorCodes.SHUTTING_DOWN, 'the node is shutting down');
  t.equal(a!.router.pendingCount, 0);
  t.equal(results.length, 4);
  for (const result of results) {
    t.equal(result.error?.code, ErrorCodes.SHUTTING_DOWN);
    t.equal(result.error?.message, 'the node is shutting down');
    t.equal(result.found, false);
  }
  t.equal(statsError?.code, ErrorCodes.SHUTTING_DOWN);
  a!.router.failPending(ErrorCodes.SHUTTING_DOWN, 'again');
  t.equal(results.length, 4, 'each callback runs once');
});

/** A WAL whose flushes the test settles by hand. */
class ManualWal implements WriteAheadLog {
  readonly records: AofWrite[] = [];
  readonly waiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  constructor(readonly waitsForSync: boolean) {}
  append(record: AofWrite): void {
    this.records.push(record);
  }
  flushed(): Promise<void> {
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }
}

t.test('with a WAL that waits for sync, a put is answered after flushed() resolves', async (t) => {
  const wals: ManualWal[] = [];
  const [a, b] = buildCluster(2, {
    wal: (shard) => {
      wals[shard] = new ManualWal(true);
      return wals[shard];
    },
  });
  const keys = keysByOwner(a!.router, 1);
  for (const [owner, key] of [
    [0, keys[0]![0]!],
    [1, keys[1]![0]!],
  ] as const) {
    const wal = wals[owner]!;
    let result: OpResult | undefined;
    let returned = false;
    let sync = false;
    a!.router.execute('put', key, 'synced', (r) => {
      result = r;
      sync = !returned;
    });
    returned = true;
    await tick();
    t.equal(result, undefined, `owner ${owner}: not answered before the flush`);
    t.equal(sync, false);
    // A hopped value reaches the owner's AOF as its UTF-8 bytes, a local one as the string it was.
    t.same(
      wal.records.map((r) => [r.op, r.key, valueText(r.value)]),
      [['ADD', key, 'synced']],
    );
    t.equal(nodeAt([a!, b!], owner).store.get(key), undefined, 'not visible before the flush');
    t.equal(wal.waiters.length, 1);
    wal.waiters.shift()!.resolve();
    await tick();
    t.equal(nodeAt([a!, b!], owner).store.get(key)?.value, 'synced', 'applied once synced');
    t.equal(result?.found, true, `owner ${owner}: answered after the flush`);
    t.equal(result?.error, undefined);
    t.same(result?.version, wal.records[0]!.version);
    wal.records.length = 0;
  }
  t.equal(wals[1]!.records.length, 0);
});

t.test('a flush that fails answers its error code', async (t) => {
  const wals: ManualWal[] = [];
  const [a] = buildCluster(2, {
    wal: (shard) => {
      wals[shard] = new ManualWal(true);
      return wals[shard];
    },
  });
  const keys = keysByOwner(a!.router, 1);
  const local = run(a!.router, 'remove', keys[0]![0]!);
  wals[0]!.waiters.shift()!.reject(new LallyError(ErrorCodes.AOF_IO, 'fsync failed'));
  const localResult = (await local).result;
  t.equal(localResult.error?.code, ErrorCodes.AOF_IO);
  t.equal(localResult.error?.message, 'fsync failed');

  const remote = run(a!.router, 'put', keys[1]![0]!, 'v');
  await tick();
  wals[1]!.waiters.shift()!.reject(new Error('EIO'));
  const remoteResult = (await remote).result;
  t.equal(remoteResult.error?.code, ErrorCodes.INTERNAL, 'a plain error crosses as internal');
  t.equal(remoteResult.error?.message, 'EIO');
});

t.test('a WAL that does not wait for sync answers at once', async (t) => {
  const wal = new ManualWal(false);
  const [a] = buildCluster(1, { wal: () => wal });
  const { result, sync } = await run(a!.router, 'put', 'k', 'v');
  t.equal(sync, true);
  t.equal(result.found, true);
  t.equal(wal.waiters.length, 0, 'flushed() is not even asked');
  t.equal(wal.records.length, 1);
});

t.test('versions cross the hop exactly', async (t) => {
  const [a, b] = buildCluster(2);
  const remoteKey = keysByOwner(a!.router, 1)[1]![0]!;
  const versions: Version[] = [];
  for (let i = 0; i < 3; i++) {
    const { result } = await run(a!.router, 'put', remoteKey, `v${i}`);
    versions.push(result.version!);
  }
  t.same(versions, [
    { wall: NOW, counter: 0, node: 2 },
    { wall: NOW, counter: 1, node: 2 },
    { wall: NOW, counter: 2, node: 2 },
  ]);
  t.same(b!.store.get(remoteKey)?.version, versions[2]);
});

/** The deadline timer is unref'd (a shard thread has other handles): hold the loop open meanwhile. */
function keepAlive(t: Test): void {
  const timer = setInterval(() => {}, 1000);
  t.teardown(() => clearInterval(timer));
}

/** Two routers on this thread joined by real rings (small, with small overflow bounds). */
function ringPair(
  t: Test,
  opts: { ringBytes: number; answerBudgetBytes?: number; maxInFlightPerShard?: number },
): { a: ShardRouter; b: ShardRouter; outboxes: Outbox[]; engines: ShardEngine[] } {
  const doorbells = [Doorbell.allocate(), Doorbell.allocate()];
  const rings = [SpscRing.allocate(opts.ringBytes), SpscRing.allocate(opts.ringBytes)]; // [a->b, b->a]
  const outboxes = [
    new Outbox(rings[0]!, doorbells[1]!, { maxQueuedMessages: 8, maxQueuedBytes: opts.ringBytes }),
    new Outbox(rings[1]!, doorbells[0]!, { maxQueuedMessages: 8, maxQueuedBytes: opts.ringBytes }),
  ];
  const link = (outbox: Outbox): HopLink => ({
    send: (first, second, third) => outbox.sendParts(first, second, third),
    sendAnswer: (first, second) => outbox.sendAnswer(first, second),
    get answerBacklogBytes() {
      return outbox.answerBacklogBytes;
    },
  });
  const engines = [0, 1].map(
    (shard) =>
      new ShardEngine({
        shard,
        store: new ShardStore(),
        clock: new HybridLogicalClock(shard + 1, () => NOW),
        wal: undefined,
      }),
  );
  const make = (shard: number, links: (HopLink | undefined)[]) =>
    new ShardRouter({ engine: engines[shard]!, shard, shards: 2, links, logger: silent, ...opts });
  const a = make(0, [undefined, link(outboxes[0]!)]);
  const b = make(1, [link(outboxes[1]!), undefined]);
  const inboxes = [
    new Inbox(doorbells[0]!, (message, from) => a.receive(from, message)),
    new Inbox(doorbells[1]!, (message, from) => b.receive(from, message)),
  ];
  inboxes[0]!.addRing(1, rings[1]!);
  inboxes[1]!.addRing(0, rings[0]!);
  for (const inbox of inboxes) inbox.start();
  t.teardown(async () => {
    for (const outbox of outboxes) outbox.close();
    for (const inbox of inboxes) await inbox.close();
    a.close();
    b.close();
  });
  return { a, b, outboxes, engines };
}

t.test('answers are never dropped when the link back is full (real rings)', async (t) => {
  // A 16 KiB ring and an overflow queue of 8 messages / 16 KiB: 200 GETs of 6 KiB values answer
  // 1.2 MB in one pass of the owner. Before, the answers past ring + queue were dropped and their
  // requests waited forever.
  const budget = 64 * 1024;
  const { a, b, outboxes, engines } = ringPair(t, { ringBytes: 16 * 1024, answerBudgetBytes: budget });
  const keys = keysByOwner(a, 2)[1]!;
  const value = 'v'.repeat(6 * 1024);
  for (const key of keys) engines[1]!.put(key, value);
  const answers = await Promise.all(
    Array.from({ length: 200 }, (_, i) => run(a, 'get', keys[i % 2]!).then(({ result }) => result)),
  );
  const ok = answers.filter((r) => r.error === undefined);
  const busy = answers.filter((r) => r.error?.code === ErrorCodes.BUSY);
  t.equal(ok.length + busy.length, 200, 'every request is answered: its value or BUSY');
  t.ok(ok.length >= budget / value.length, `at least a budget's worth of values (${ok.length})`);
  t.ok(
    ok.every((r) => r.value === value),
    'each value whole',
  );
  t.equal(b.counters.answersBusy, busy.length, 'the owner refused the rest before serving them');
  // The BUSY answers (about 120 bytes each) queue too; their number is bounded by the requests.
  const bound = budget + value.length + HOP_HEADER_BYTES + busy.length * 200;
  t.ok(
    outboxes[1]!.stats.answerHighWaterBytes <= bound,
    `answers queued stay within the budget plus one answer (${outboxes[1]!.stats.answerHighWaterBytes} <= ${bound})`,
  );
  t.equal(a.pendingCount, 0);
  t.equal(a.inFlightTo(1), 0);
});

t.test('writes are answered past the answer budget; a REMOVE refused did not happen', async (t) => {
  const [a, b] = buildCluster(2);
  const key = keysByOwner(a!.router, 1)[1]![0]!;
  b!.engine.put(key, 'kept');
  // The owner's link back reports a backlog over the (default) budget.
  Object.defineProperty(b!.links[0]!, 'answerBacklogBytes', { value: 64 * 1024 * 1024 });
  const get = await run(a!.router, 'get', key);
  t.equal(get.result.error?.code, ErrorCodes.BUSY);
  const remove = await run(a!.router, 'remove', key);
  t.equal(remove.result.error?.code, ErrorCodes.BUSY);
  t.equal(b!.store.get(key)?.value, 'kept', 'the refused REMOVE did not run');
  const put = await run(a!.router, 'put', key, 'new');
  t.equal(put.result.error, undefined, 'a PUT (a tiny answer) is always served');
  t.equal(b!.store.get(key)?.value, 'new');
  t.equal(b!.router.counters.answersBusy, 2);
});

t.test('a REMOVE waiting for its fsync reserves its answer bytes', async (t) => {
  const wal = new ManualWal(true);
  const [a, b] = buildCluster(2, { wal: (shard) => (shard === 1 ? wal : undefined) });
  const keys = keysByOwner(a!.router, 2)[1]!;
  b!.store.put(keys[0]!, 'x'.repeat(30 * 1024 * 1024), { wall: NOW - 1, counter: 0, node: 9 });
  b!.store.put(keys[1]!, 'y', { wall: NOW - 1, counter: 0, node: 9 });
  const first = run(a!.router, 'remove', keys[0]!);
  await tick();
  t.equal(wal.waiters.length, 1, 'the first REMOVE waits for its sync');
  // 90 MiB reserved for its answer (30 Mi chars * 3) > the 32 MiB budget: the next one is refused.
  const second = await run(a!.router, 'remove', keys[1]!);
  t.equal(second.result.error?.code, ErrorCodes.BUSY);
  t.equal(b!.store.get(keys[1]!)?.value, 'y');
  wal.waiters[0]!.resolve();
  const removed = await first;
  t.equal(removed.result.error, undefined);
  t.equal(removed.result.value?.length, 30 * 1024 * 1024, 'the removed value comes back whole');
  const third = run(a!.router, 'remove', keys[1]!);
  await tick();
  t.equal(wal.waiters.length, 2, 'the reservation was released with the answer: the next REMOVE runs');
  wal.waiters[1]!.resolve();
  t.equal((await third).result.found, true);
});

t.test('every hop has a deadline; a late answer is ignored', async (t) => {
  keepAlive(t);
  const { logger, lines } = capturingLogger();
  const [a] = buildCluster(2, { logger });
  const timed = new ShardRouter({
    engine: a!.engine,
    shard: 0,
    shards: 2,
    links: a!.links,
    logger,
    hopTimeoutMs: 40,
  });
  t.teardown(() => timed.close());
  a!.links[1]!.deliver = false; // the other shard never answers
  const key = keysByOwner(timed, 1)[1]![0]!;
  const started = Date.now();
  let calls = 0;
  const result = await new Promise<OpResult>((resolve) =>
    timed.execute('put', key, 'v', (r) => {
      calls++;
      resolve(r);
    }),
  );
  const waited = Date.now() - started;
  t.equal(result.error?.code, ErrorCodes.TIMEOUT);
  t.match(result.error?.message, /did not answer within 40 ms/);
  t.ok(waited >= 35, `not before the deadline (${waited} ms)`);
  t.equal(timed.pendingCount, 0);
  t.equal(timed.inFlightTo(1), 0);
  t.equal(timed.counters.timeouts, 1);
  // The answer arrives after all: nobody is called twice, nothing is logged as an error.
  const request = readHopHeader(a!.links[1]!.sent[0]!, emptyHopHeader());
  const late = new HopHeaderWriter().write(HopKind.RESULT, HopStatus.OK, request.requestId, undefined, 0, 0);
  timed.receive(1, late);
  t.equal(calls, 1);
  t.equal(timed.counters.lateAnswers, 1);
  t.equal(lines.filter((line) => (line.level as number) >= 50).length, 0);
});

t.test('hops waiting on one shard are capped: past the cap a request is answered BUSY at once', async (t) => {
  keepAlive(t);
  const [a] = buildCluster(2);
  const capped = new ShardRouter({
    engine: a!.engine,
    shard: 0,
    shards: 2,
    links: a!.links,
    logger: silent,
    maxInFlightPerShard: 3,
    hopTimeoutMs: 30,
  });
  t.teardown(() => capped.close());
  a!.links[1]!.deliver = false;
  const key = keysByOwner(capped, 1)[1]![0]!;
  const results: Promise<OpResult>[] = [];
  for (let i = 0; i < 3; i++) results.push(run(capped, 'get', key).then(({ result }) => result));
  const fourth = await run(capped, 'get', key);
  t.equal(fourth.sync, true);
  t.equal(fourth.result.error?.code, ErrorCodes.BUSY);
  t.equal(a!.links[1]!.sent.length, 3, 'the fourth was not sent');
  for (const result of await Promise.all(results)) t.equal(result.error?.code, ErrorCodes.TIMEOUT);
  const again = await run(capped, 'get', key);
  t.equal(again.result.error?.code, ErrorCodes.TIMEOUT, 'room again once the others timed out');
});

t.test('a flood of failing writes logs a few lines, without stacks, counting repeats', async (t) => {
  const { logger, lines } = capturingLogger();
  const [a] = buildCluster(1, { logger });
  a!.engine.put = () => {
    throw new LallyError(ErrorCodes.AOF_IO, 'ENOSPC: no space left on device');
  };
  for (let i = 0; i < 500; i++) {
    const { result } = await run(a!.router, 'put', `k${i}`, 'v');
    t.equal(result.error?.code, ErrorCodes.AOF_IO);
  }
  const failures = lines.filter((line) => line.msg === 'operation failed');
  t.ok(failures.length >= 1 && failures.length <= 5, `${failures.length} lines for 500 failures`);
  t.ok(
    failures.every((line) => line.err === undefined && line.code === ErrorCodes.AOF_IO),
    'code and message, no stack',
  );
});

t.test('every answer, local or hopped, carries the configured quorum with achieved 1', async (t) => {
  const nodes = buildCluster(2, { readQuorum: 2, writeQuorum: 3 });
  const owned = keysByOwner(nodes[0]!.router, 1, 'quorum');
  const read = { required: 2, achieved: 1 };
  const write = { required: 3, achieved: 1 };
  for (const [owner, keys] of owned.entries()) {
    const key = keys[0]!;
    const where = owner === 0 ? 'local' : 'hopped';
    t.same((await run(nodes[0]!.router, 'get', key)).result.quorum, read, `a miss, ${where}`);
    t.same((await run(nodes[0]!.router, 'put', key, 'v')).result.quorum, write, `put, ${where}`);
    t.same((await run(nodes[0]!.router, 'get', key)).result.quorum, read, `a hit, ${where}`);
    t.same((await run(nodes[0]!.router, 'remove', key)).result.quorum, write, `remove, ${where}`);
  }
  for (const node of nodes) node.router.close();
});

t.test("a GET of another shard's key reads its shared table: no hop, the owner's answer", async (t) => {
  const nodes = buildCluster(2, { directReads: true });
  const [a, b] = nodes as [Node, Node];
  const [, owned] = keysByOwner(a.router, 3);
  const [live, deleted, never] = owned as [string, string, string];
  await run(b.router, 'put', live, 'välue 🔑');
  await run(b.router, 'put', deleted, 'gone');
  await run(b.router, 'remove', deleted);
  const hopsBefore = a.links[1]!.sent.length;

  const hit = await run(a.router, 'get', live);
  t.equal(hit.sync, true, 'answered at once');
  t.equal(hit.result.found, true);
  t.equal(hit.result.value, 'välue 🔑');
  t.same(stampOf(hit.result.version), stampOf(b.store.get(live)), "the owner's version");
  t.same(hit.result.quorum, { required: 1, achieved: 1 });
  t.equal((await run(a.router, 'get', deleted)).result.found, false, 'a tombstone is a missing key');
  const miss = await run(a.router, 'get', never);
  t.equal(miss.result.found, false, 'a missing key');
  t.equal(miss.result.value, undefined);
  t.equal(a.links[1]!.sent.length, hopsBefore, 'nothing was sent to the owner');
  t.equal(a.router.counters.directGets, 3);
  t.equal(a.engine.counters.gets, 3, "counted in the reading shard's gets");
  t.equal(a.engine.counters.hits, 1);
  t.equal(b.engine.counters.gets, 0);

  // Writes still hop to the owner.
  await run(a.router, 'put', live, 'second');
  t.equal(a.links[1]!.sent.length, hopsBefore + 1, 'a PUT hopped');
  t.equal((await run(a.router, 'get', live)).result.value, 'second', 'the new value is read at once');
});

t.test('a GET the owner keeps changing under the reader hops instead', async (t) => {
  const nodes = buildCluster(2, { directReads: true });
  const [a, b] = nodes as [Node, Node];
  const key = keysByOwner(a.router, 1)[1]![0]!;
  await run(b.router, 'put', key, 'value');
  // Hold the key's stripe odd, as an owner in the middle of a write would.
  const bytes = new Utf8Buffer().encode(key);
  const meta = new Int32Array(b.store.table.buffers.meta);
  const stripe = stripeOf(tableHash(bytes.bytes, bytes.length));
  Atomics.add(meta, stripe, 1);
  const pending = run(a.router, 'get', key);
  Atomics.add(meta, stripe, 1);
  const { result, sync } = await pending;
  t.equal(sync, false, 'answered by the hop');
  t.equal(result.value, 'value');
  t.equal(a.router.counters.directFallbacks, 1);
  t.equal(a.router.counters.hopsOut, 1);
  t.equal(b.router.counters.hopsIn, 1);
});

t.test('a GET behind a write of the same key still in flight hops after it, and reads it', async (t) => {
  const nodes = buildCluster(2, { directReads: true });
  const [a, b] = nodes as [Node, Node];
  const key = keysByOwner(a.router, 1)[1]![0]!;
  await run(b.router, 'put', key, 'old');
  // As a batch or an HTTP pipeline does: the PUT is sent, the GET comes before its answer.
  const put = run(a.router, 'put', key, 'new');
  const get = run(a.router, 'get', key);
  const remove = run(a.router, 'remove', key);
  const getAfterRemove = run(a.router, 'get', key);
  t.equal((await put).result.found, true);
  const read = await get;
  t.equal(read.sync, false, 'the GET hopped behind the PUT');
  t.equal(read.result.value, 'new', 'and read it');
  t.equal((await remove).result.value, 'new');
  t.equal((await getAfterRemove).result.found, false, 'a GET behind a REMOVE reads the removal');
  t.equal(a.router.counters.directGets, 0);
  const later = await run(a.router, 'get', key);
  t.equal(later.sync, true, 'with no write in flight the next GET reads the table again');
  t.equal(later.result.found, false);
  t.equal(a.router.counters.directGets, 1);
});

t.test(
  'a found value comes as bytes during the callback, local, direct or hopped, and as text after',
  async (t) => {
    const value = 'välue "quoted" 🔑';
    for (const directReads of [false, true]) {
      const nodes = buildCluster(2, { directReads });
      const [a, b] = nodes as [Node, Node];
      const [mine, theirs] = keysByOwner(a.router, 1) as [string[], string[]];
      await run(a.router, 'put', mine[0]!, value);
      await run(b.router, 'put', theirs[0]!, value);
      for (const [where, key] of [
        ['local', mine[0]!],
        [directReads ? 'direct' : 'hopped', theirs[0]!],
      ] as const) {
        const taken = await new Promise<{ bytes: string; result: OpResult }>((resolve) =>
          a.router.execute('get', key, undefined, (result) => {
            // Copied here: the bytes are a view of the table, the reader's copy or the ring.
            resolve({ bytes: Buffer.from(result.valueBytes ?? []).toString('hex'), result });
          }),
        );
        t.equal(taken.bytes, Buffer.from(value).toString('hex'), `${where}: the value's UTF-8 bytes`);
        t.throws(() => taken.result.value, /taken as bytes/, `${where}: once taken, the text is not kept`);
        const kept = await run(a.router, 'get', key);
        // Overwritten since: the result kept the text it was settled with.
        await run(a.router, 'put', key, 'other');
        t.equal(kept.result.value, value, `${where}: not taken, the value is kept as text`);
        t.equal(kept.result.valueBytes, undefined, `${where}: no bytes past the callback`);
      }
    }
  },
);

/**
 * Runs the operations of /batch requests and assembles their answers, within bounds. A batch answer
 * is built in memory, and one batch may ask for far more than it sends (10,000 GETs of one 1 MiB
 * value: a 10 GiB answer from a 300 KB body), so a shard bounds what it assembles:
 *
 * - at most `maxActive` batches run at once; the others wait their turn, up to `maxWaiting` of them
 *   and `maxWaitMs` each: a batch past either bound is refused with LALLY_ERR_BUSY before any of its
 *   operations runs (a clear 503 rather than a client's timeout);
 * - each runs `window` operations at a time, so one batch never puts thousands of hops in flight;
 * - the answer bytes of the running batches share `budgetBytes`. The oldest running batch may use the
 *   whole budget for itself (so it always progresses); a GET whose item would overrun the budget is
 *   answered, inside the batch, with a per-item LALLY_ERR_BUSY (status "partial"), and so are the
 *   batch's later GETs, which then do not run. A write's item is never replaced: a write that
 *   happened is reported as such.
 */
import { ErrorCodes, LallyError } from '../errors.js';
import type { OpCallback, OpKind, OpResult, Quorum, ReadSink } from '../kv/key-value-service.js';
import { decodeUtf8Bytes } from '../kv/value-input.js';
import { BodyOp, keyUnits } from './batch-body.js';
import { AnswerWriter } from './batch-json.js';
import type { BatchOp } from './request-parsing.js';

export interface BatchLimits {
  /** Bytes (UTF-16 units of the JSON) that the running batches may assemble together. */
  readonly budgetBytes: number;
  readonly maxActive: number;
  readonly maxWaiting: number;
  readonly maxWaitMs: number;
  readonly window: number;
}

export const BATCH_DEFAULTS = { maxActive: 2, maxWaiting: 256, maxWaitMs: 5000, window: 128 } as const;

/** The default budget: 64 MiB, or four of the largest values, so that a batch of large GETs fits. */
export function defaultBatchBudget(maxValueBytes: number): number {
  return Math.max(64 * 1024 * 1024, 4 * maxValueBytes);
}

/** The quorum of a batch item refused before it ran: no replica was asked. */
const NOT_RUN: Quorum = Object.freeze({ required: 1, achieved: 0 });

type Execute = (op: OpKind, key: string, value: string | undefined, callback: OpCallback) => void;
/** KeyValueService.readNow: a GET answered into the sink before it returns, or false (then `execute`). */
type ReadNow = (key: string, sink: ReadSink) => boolean;
/** KeyValueService.readNowBytes: readNow of a key given as its UTF-8 bytes, `source[start, end)`. */
type ReadNowBytes = (source: Uint8Array, start: number, end: number, sink: ReadSink) => boolean;

interface RunningBatch {
  bytes: number;
}

/** Writers kept for reuse once their batch is answered: no more than that, nor larger than that. */
const KEPT_WRITERS = 4;
const KEPT_WRITER_BYTES = 4 * 1024 * 1024;

interface WaitingBatch {
  readonly since: number;
  readonly run: () => void;
  readonly refuse: (error: LallyError) => void;
}

export class BatchRunner {
  readonly #execute: Execute;
  readonly #readNow: ReadNow | undefined;
  readonly #readNowBytes: ReadNowBytes | undefined;
  readonly #limits: BatchLimits;
  /** Running batches, oldest first, and the batches waiting for a turn. */
  readonly #active: RunningBatch[] = [];
  readonly #waiting: WaitingBatch[] = [];
  #sweeper: NodeJS.Timeout | undefined;
  #bytes = 0;
  /** Answer writers free for the next batch, and the one that puts out-of-order items in order. */
  readonly #writers: AnswerWriter[] = [];
  #ordering = new AnswerWriter();
  /** batchesBusy: batches refused whole; itemsBusy: GET items answered LALLY_ERR_BUSY. */
  readonly counters = { batchesBusy: 0, itemsBusy: 0 };

  /**
   * GETs go through `readNow` first when it is given (through `readNowBytes` for the keys of a body
   * that the fast parse read, when that is given too); `execute` runs what they cannot answer now.
   */
  constructor(execute: Execute, limits: BatchLimits, readNow?: ReadNow, readNowBytes?: ReadNowBytes) {
    this.#execute = execute;
    this.#limits = limits;
    this.#readNow = readNow;
    this.#readNowBytes = readNow === undefined ? undefined : readNowBytes;
  }

  /** Bytes the running batches have assembled. */
  get assembledBytes(): number {
    return this.#bytes;
  }

  get running(): number {
    return this.#active.length;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Runs `ops` now or when a turn comes, then calls `onDone` with the answer JSON's UTF-8 bytes,
   * valid only during the call (not when the client went away: `aborted()` turns true). Throws LALLY_ERR_BUSY when too many batches wait;
   * calls `onRefused` with it when this one waited too long.
   */
  submit(
    ops: readonly BatchOp[],
    aborted: () => boolean,
    onDone: (json: Uint8Array) => void,
    onRefused: (error: LallyError) => void,
  ): void {
    if (this.#active.length < this.#limits.maxActive) {
      this.#run(ops, aborted, onDone);
      return;
    }
    if (this.#waiting.length >= this.#limits.maxWaiting) {
      this.counters.batchesBusy++;
      throw new LallyError(
        ErrorCodes.BUSY,
        `this shard has ${this.#waiting.length} batches waiting to run; retry`,
      );
    }
    this.#waiting.push({ since: Date.now(), run: () => this.#run(ops, aborted, onDone), refuse: onRefused });
    if (this.#sweeper === undefined) {
      this.#sweeper = setInterval(this.#sweep, Math.max(1, Math.ceil(this.#limits.maxWaitMs / 8)));
      this.#sweeper.unref();
    }
  }

  /** Stops the timer that refuses batches that waited too long. */
  close(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  /** Refuses the batches that waited longer than `maxWaitMs` (the queue is in arrival order). */
  readonly #sweep = (): void => {
    const oldest = Date.now() - this.#limits.maxWaitMs;
    while (this.#waiting.length > 0 && this.#waiting[0]!.since <= oldest) {
      this.counters.batchesBusy++;
      const late = this.#waiting.shift()!;
      late.refuse(
        new LallyError(
          ErrorCodes.BUSY,
          `this shard's batches left this one no turn within ${this.#limits.maxWaitMs} ms; retry`,
        ),
      );
    }
    if (this.#waiting.length === 0) this.close();
  };

  #run(ops: readonly BatchOp[], aborted: () => boolean, onDone: (json: Uint8Array) => void): void {
    if (aborted()) {
      this.#startWaiting();
      return;
    }
    const limits = this.#limits;
    const batch: RunningBatch = { bytes: 0 };
    this.#active.push(batch);
    const writer = this.#writers.pop() ?? new AnswerWriter();
    writer.reset(ops.length);
    let next = 0;
    let running = 0;
    let remaining = ops.length;
    // Items that failed or missed their quorum: the batch is then `partial`.
    let shortfalls = 0;
    let pumping = false;
    // Set once a GET of this batch was refused for the budget: its later GETs are refused without
    // running (fetching a value only to drop it would copy gigabytes through the rings).
    let spent = false;
    const end = () => {
      this.#bytes -= batch.bytes;
      this.#active.splice(this.#active.indexOf(batch), 1);
      // Not from here: a batch of local keys finishes synchronously, and the queue may be long.
      queueMicrotask(() => this.#startWaiting());
    };
    const release = () => {
      if (this.#writers.length < KEPT_WRITERS && writer.bytes.length <= KEPT_WRITER_BYTES) {
        this.#writers.push(writer);
      }
    };
    const done = () => {
      const answer = writer.finish(ops.length, shortfalls !== 0, this.#ordering);
      end();
      try {
        onDone(answer);
      } finally {
        release();
        if (this.#ordering.bytes.length > KEPT_WRITER_BYTES) this.#ordering = new AnswerWriter();
      }
    };
    /** Whether `size` more bytes would overrun the budget (the oldest batch may use all of it). */
    const overBudget = (size: number) =>
      batch.bytes + size > limits.budgetBytes ||
      (this.#active[0] !== batch && this.#bytes + size > limits.budgetBytes);
    const settle = (index: number, op: BatchOp, outcome: OpResult) => {
      let result = outcome;
      if (op.op === 'get' && result.found && overBudget((result.value?.length ?? 0) + keyUnits(op))) {
        spent = true;
        result = this.#busy();
      }
      if (result.error !== undefined || result.quorum.achieved < result.quorum.required) shortfalls++;
      writer.item(index, op, result);
      batch.bytes += writer.units;
      this.#bytes += writer.units;
    };
    // The GET that readNow is answering: the sink writes its item as `settle` would.
    let reading = 0;
    let readOp: BatchOp | undefined;
    const sink: ReadSink = {
      found: (source, start, length, wall, counter, node, quorum) => {
        const op = readOp!;
        // ASCII bytes are the value's UTF-16 units; any other value is decoded and weighed as before.
        if (
          !overBudget(length + keyUnits(op)) &&
          writer.foundBytes(reading, op, source, start, length, wall, quorum)
        ) {
          if (quorum.achieved < quorum.required) shortfalls++;
          batch.bytes += writer.units;
          this.#bytes += writer.units;
          return;
        }
        const version = { wall, counter, node };
        settle(reading, op, {
          found: true,
          value: decodeUtf8Bytes(source.subarray(start, start + length)),
          version,
          error: undefined,
          quorum,
        });
      },
      missing: (quorum) => settle(reading, readOp!, missingItem(quorum)),
    };
    const readNow = this.#readNow;
    const readNowBytes = this.#readNowBytes;
    const pump = () => {
      if (pumping) return; // an operation answered synchronously: the loop below goes on
      pumping = true;
      while (next < ops.length && running < limits.window && !aborted()) {
        const index = next++;
        const op = ops[index]!;
        if (op.op === 'get' && (spent || overBudget(0))) {
          settle(index, op, this.#busy());
          if (--remaining === 0) done();
          continue;
        }
        if (op.op === 'get' && readNow !== undefined) {
          reading = index;
          readOp = op;
          const answered =
            readNowBytes !== undefined && op instanceof BodyOp && op.body !== undefined
              ? readNowBytes(op.body, op.keyStart, op.keyEnd, sink)
              : readNow(op.key, sink);
          if (answered) {
            if (--remaining === 0) done();
            continue;
          }
        }
        running++;
        this.#execute(op.op, op.key, op.value, (result) => {
          running--;
          if (aborted()) {
            // The client is gone: run nothing more, and free the batch once all its hops are back.
            if (running === 0) {
              end();
              release();
            }
            return;
          }
          settle(index, op, result);
          if (--remaining === 0) done();
          else pump();
        });
      }
      pumping = false;
    };
    if (remaining === 0) done();
    else pump();
  }

  #busy(): OpResult {
    this.counters.itemsBusy++;
    return {
      found: false,
      value: undefined,
      version: undefined,
      quorum: NOT_RUN,
      error: new LallyError(
        ErrorCodes.BUSY,
        `the answers this shard is assembling for batches reached their budget (${this.#limits.budgetBytes} bytes); retry`,
      ),
    };
  }

  #startWaiting(): void {
    if (this.#active.length >= this.#limits.maxActive) return;
    this.#waiting.shift()?.run();
    if (this.#waiting.length === 0) this.close();
  }
}

/** The item of a GET that found nothing, by quorum (one object per quorum object, reused). */
let missingQuorum: Quorum | undefined;
let missingResult: OpResult | undefined;
function missingItem(quorum: Quorum): OpResult {
  if (quorum !== missingQuorum || missingResult === undefined) {
    missingQuorum = quorum;
    missingResult = { found: false, value: undefined, version: undefined, error: undefined, quorum };
  }
  return missingResult;
}

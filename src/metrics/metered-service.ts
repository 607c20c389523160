import type {
  KeyValueService,
  OpCallback,
  OpKind,
  OpResult,
  Quorum,
  ReadSink,
} from '../kv/key-value-service.js';
import type { ValueInput } from '../kv/value-input.js';
import type { ApiRoute, InlineSlots, Outcome, ShardMetricsWriter } from './shard-metrics.js';

/** How an operation's answer counts: an error by its HTTP status class, a GET or REMOVE of nothing, a quorum missed. */
export function outcomeOf(op: OpKind, result: OpResult): Outcome {
  if (result.error !== undefined) return result.error.httpStatus < 500 ? 'client_error' : 'server_error';
  if (result.quorum.achieved < result.quorum.required) return 'partial';
  if (!result.found && op !== 'put') return 'not_found';
  return 'ok';
}

/**
 * The key-value service of one HTTP route, counted: every operation's outcome and latency go to the
 * shard's shared block; nothing is sent anywhere. Only operations answered later (a hop to another
 * shard, an fsync, a quorum) read the clock, twice: a clock read cost 100 to 450 ns on the shared VMs
 * this was measured on (bench/metrics-path.ts), and two on every operation were 3 to 5% of a GET's CPU.
 * An operation answered inline (a key of this shard, no wait) takes a few microseconds, well inside
 * the first bucket (50 µs): it is recorded there, with a duration of 0.
 */
export function meteredService(
  service: KeyValueService,
  route: ApiRoute,
  writer: ShardMetricsWriter,
  now: () => number = () => performance.now(),
): KeyValueService {
  const metered: KeyValueService = {
    execute(op: OpKind, key: string, value: ValueInput | undefined, callback: OpCallback): void {
      let started = -1; // -1: still inside execute (an answer now is inline)
      let answered = false;
      service.execute(op, key, value, (result) => {
        answered = true;
        writer.operation(route, op, outcomeOf(op, result), started < 0 ? 0 : now() - started);
        callback(result);
      });
      if (!answered) started = now();
    },
  };
  const read = service.readNow?.bind(service);
  const counted = new CountedSink(route, writer);
  if (read !== undefined) {
    metered.readNow = (key, sink) => {
      // Restored after the call, in case a sink reads again from inside its answer.
      const outer = counted.target;
      counted.target = sink;
      const answered = read(key, counted);
      counted.target = outer;
      return answered;
    };
  }
  const readBytes = service.readNowBytes?.bind(service);
  if (readBytes !== undefined) {
    metered.readNowBytes = (source, start, end, sink) => {
      const outer = counted.target;
      counted.target = sink;
      const answered = readBytes(source, start, end, counted);
      counted.target = outer;
      return answered;
    };
  }
  return metered;
}

/** Counts a GET answered now as execute counts it (inline: duration 0), then passes the answer on. */
class CountedSink implements ReadSink {
  target: ReadSink | undefined;
  readonly #writer: ShardMetricsWriter;
  readonly #ok: InlineSlots;
  readonly #notFound: InlineSlots;
  readonly #partial: InlineSlots;

  constructor(route: ApiRoute, writer: ShardMetricsWriter) {
    this.#writer = writer;
    this.#ok = writer.inlineSlots(route, 'get', 'ok');
    this.#notFound = writer.inlineSlots(route, 'get', 'not_found');
    this.#partial = writer.inlineSlots(route, 'get', 'partial');
  }

  found(
    source: Uint8Array,
    start: number,
    length: number,
    wall: number,
    counter: number,
    node: number,
    quorum: Quorum,
  ): void {
    this.#writer.inline(quorum.achieved < quorum.required ? this.#partial : this.#ok);
    this.target!.found(source, start, length, wall, counter, node, quorum);
  }

  missing(quorum: Quorum): void {
    this.#writer.inline(quorum.achieved < quorum.required ? this.#partial : this.#notFound);
    this.target!.missing(quorum);
  }
}

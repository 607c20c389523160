/**
 * What the main thread tells every shard without a message: the node's phase (GET /readyz) and the
 * main thread's event-loop delay (GET /stats), in one small SharedArrayBuffer the main thread writes
 * and the shards read when asked.
 */

/** The node's phases in start order; only `ready` is ready. */
export const NODE_PHASES = ['replaying', 'joining', 'catching_up', 'opening', 'ready', 'stopping'] as const;
export type NodePhase = (typeof NODE_PHASES)[number];

/** Why a node in that phase is not ready (the body of a 503 from GET /readyz). */
export const PHASE_REASONS: Readonly<Record<NodePhase, string>> = {
  replaying: 'the shards are replaying their AOF',
  joining: 'the node is joining its cluster',
  catching_up: 'the node is receiving its data from the cluster',
  opening: 'the shards are opening the HTTP port',
  ready: '',
  stopping: 'the node is shutting down',
};

export interface EventLoopDelay {
  readonly maxMs: number;
  readonly p99Ms: number;
}

const PHASE = 0;
const ELD_MAX = 1;
const ELD_P99 = 2;
const BYTES = 3 * Float64Array.BYTES_PER_ELEMENT;

/** The main thread's side (writes) and the shards' (reads) of the same block. */
export class NodeStatus {
  readonly buffer: SharedArrayBuffer;
  readonly #slots: Float64Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(BYTES)) {
    if (buffer.byteLength !== BYTES) throw new RangeError(`a node status block is ${BYTES} bytes`);
    this.buffer = buffer;
    this.#slots = new Float64Array(buffer);
  }

  get phase(): NodePhase {
    return NODE_PHASES[this.#slots[PHASE]!] ?? 'replaying';
  }

  set phase(phase: NodePhase) {
    this.#slots[PHASE] = NODE_PHASES.indexOf(phase);
  }

  get mainEventLoopDelay(): EventLoopDelay {
    return { maxMs: this.#slots[ELD_MAX]!, p99Ms: this.#slots[ELD_P99]! };
  }

  set mainEventLoopDelay(delay: EventLoopDelay) {
    this.#slots[ELD_MAX] = delay.maxMs;
    this.#slots[ELD_P99] = delay.p99Ms;
  }
}

import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Logger } from 'pino';
import { ErrorCodes, LallyError } from '../errors.js';
import type { OpKind, OpResult, ShardRouter } from '../shard/shard-router.js';
import { batchItemJson, timestampOf } from './batch-json.js';
import { readBody } from './body-reader.js';
import { KvJson } from './kv-json.js';
import { wantsRawValue, wantsReturnBody } from './query-flags.js';
import {
  type BatchOp,
  checkValueBytes,
  decodeUtf8,
  keyFromPath,
  parseBatchBody,
  parseKeyValueBody,
  type RequestLimits,
} from './request-parsing.js';
import { errorAnswer, errorJson, Messages, statusLine } from './responses.js';
import type { UwsModule } from './uws-native.js';

export interface HttpAppOptions {
  readonly router: ShardRouter;
  readonly limits: RequestLimits;
  readonly readQuorum: number;
  readonly writeQuorum: number;
  readonly logger: Logger;
  /** Budget of the batch answers one shard assembles at once (default: max(64 MiB, 4 values)). */
  readonly batchAnswerBudgetBytes?: number;
  /** The other members' gRPC addresses (GET /nodes). */
  nodes(): readonly string[];
  /** The whole node's figures (GET /stats), gathered from every shard. */
  stats(callback: (json: string) => void): void;
}

const JSON_TYPE = 'application/json';
const OCTET_TYPE = 'application/octet-stream';
const jsonType = (): string => JSON_TYPE;
const always200 = (): number => 200;
const foundOr404 = (result: OpResult): number => (result.found ? 200 : 404);

const KV_PREFIX = '/kv/';
/** Bounds of /batch (see #batch). */
const BATCH_WINDOW = 128;
const MAX_ACTIVE_BATCHES = 2;
const MAX_WAITING_BATCHES = 256;
const MiB = 1024 * 1024;

function busyResult(budget: number): OpResult {
  return {
    found: false,
    value: undefined,
    version: undefined,
    error: new LallyError(
      ErrorCodes.BUSY,
      `the answers this shard is assembling for batches reached their budget (${budget} bytes); retry`,
    ),
  };
}
export const GREETING = 'Hello World! from lally';

/** Tracks one request that is answered later (after a hop, a sync, or its body). */
interface Pending {
  aborted: boolean;
}

/**
 * The HTTP API of one shard: upstream's routes (/add, /get, /remove, /nodes, /greet), REST routes under
 * /kv/, /batch and /stats. Every shard serves all of them on the same port; the router sends each key
 * to its owner. See docs/api.md.
 */
export class HttpApi {
  readonly #opts: HttpAppOptions;
  readonly #debug: boolean;
  /** Requests accepted and not answered yet: a graceful shutdown waits for them. */
  inFlight = 0;
  /** When set, answers ask clients to close their connection (we are shutting down). */
  closing = false;
  /**
   * batchesBusy: batches refused whole (503) because the batch budget was spent; batchItemsBusy: GET
   * items answered LALLY_ERR_BUSY inside a batch for the same reason.
   */
  readonly counters = { requests: 0, errors: 0, batchesBusy: 0, batchItemsBusy: 0 };
  /** Bytes (UTF-16 units) of batch answers this shard is assembling, and their budget. */
  #batchBytes = 0;
  readonly #batchBudget: number;
  /** Running batches, oldest first, and the batches waiting for a turn. */
  readonly #activeBatches: { bytes: number }[] = [];
  readonly #waitingBatches: (() => void)[] = [];

  readonly #json: KvJson;

  constructor(opts: HttpAppOptions) {
    this.#opts = opts;
    this.#json = new KvJson(opts.readQuorum, opts.writeQuorum);
    // A few of the largest values at least, so that one batch of large GETs succeeds whole.
    this.#batchBudget = opts.batchAnswerBudgetBytes ?? Math.max(64 * MiB, 4 * opts.limits.maxValueBytes);
    this.#debug = opts.logger.isLevelEnabled('debug');
  }

  register(app: TemplatedApp): TemplatedApp {
    const allow = (methods: string) => (res: HttpResponse, req: HttpRequest) =>
      this.#methodNotAllowed(res, req, methods);
    return app
      .get('/greet', (res) => this.#send(res, 200, 'text/plain; charset=utf-8', GREETING))
      .get('/nodes', (res) => this.#nodes(res))
      .get('/stats', (res) => this.#stats(res))
      .post('/add', (res, req) =>
        this.#withBody(res, req, (body, p) => this.#upstreamOp(res, p, 'put', body, true)),
      )
      .post('/get', (res, req) =>
        this.#withBody(res, req, (body, p) => this.#upstreamOp(res, p, 'get', body, false)),
      )
      .del('/remove', (res, req) =>
        this.#withBody(res, req, (body, p) => this.#upstreamOp(res, p, 'remove', body, false)),
      )
      .get('/kv/*', (res, req) => this.#restGet(res, req))
      .put('/kv/*', (res, req) => this.#restPut(res, req))
      .del('/kv/*', (res, req) => this.#restRemove(res, req))
      .post('/batch', (res, req) => this.#batch(res, req))
      .any('/greet', allow('GET'))
      .any('/nodes', allow('GET'))
      .any('/stats', allow('GET'))
      .any('/add', allow('POST'))
      .any('/get', allow('POST'))
      .any('/remove', allow('DELETE'))
      .any('/batch', allow('POST'))
      .any('/kv/*', allow('GET, PUT, DELETE'))
      .any('/*', (res, req) => {
        this.#sendError(
          res,
          new LallyError(
            ErrorCodes.ROUTE_NOT_FOUND,
            `no route ${req.getMethod().toUpperCase()} ${req.getUrl()}`,
          ),
        );
      });
  }

  // ---- plumbing -------------------------------------------------------------------------------

  #send(
    res: HttpResponse,
    status: number,
    contentType: string,
    body: string | Uint8Array,
    extra?: [string, string],
  ): void {
    res.cork(() => this.#write(res, status, contentType, body, extra));
  }

  /** Writes a whole answer; the caller must be corked (inside a uWS handler, or in res.cork). */
  #write(
    res: HttpResponse,
    status: number,
    contentType: string,
    body: string | Uint8Array,
    extra?: [string, string],
  ): void {
    this.counters.requests++;
    if (status === 200) {
      res.writeHeader('content-type', contentType);
    } else {
      this.counters.errors++;
      res.writeStatus(statusLine(status)).writeHeader('content-type', contentType);
    }
    if (extra !== undefined) res.writeHeader(extra[0], extra[1]);
    res.end(body, this.closing);
  }

  #sendError(res: HttpResponse, error: unknown): void {
    if (!(error instanceof LallyError)) this.#opts.logger.error({ err: error }, 'request failed');
    const answer = errorAnswer(error);
    this.#send(res, answer.httpStatus, JSON_TYPE, answer.body);
  }

  #methodNotAllowed(res: HttpResponse, req: HttpRequest, methods: string): void {
    const error = new LallyError(
      ErrorCodes.METHOD_NOT_ALLOWED,
      `${req.getMethod().toUpperCase()} is not allowed on ${req.getUrl()}; use ${methods}`,
    );
    const answer = errorAnswer(error);
    this.#send(res, answer.httpStatus, JSON_TYPE, answer.body, ['allow', methods]);
  }

  /** Marks a request as answered later: uWS needs an abort handler before the handler returns. */
  #defer(res: HttpResponse): Pending {
    const pending: Pending = { aborted: false };
    this.inFlight++;
    res.onAborted(() => {
      pending.aborted = true;
      this.inFlight--;
    });
    return pending;
  }

  #finish(pending: Pending): boolean {
    if (pending.aborted) return false;
    this.inFlight--;
    return true;
  }

  #withBody(res: HttpResponse, req: HttpRequest, onBody: (body: Uint8Array, pending: Pending) => void): void {
    const pending = this.#defer(res);
    readBody(
      res,
      req,
      this.#opts.limits.maxBodyBytes,
      (body) => {
        if (pending.aborted) return;
        try {
          onBody(body, pending);
        } catch (error) {
          if (this.#finish(pending)) this.#sendError(res, error);
        }
      },
      (error) => {
        if (this.#finish(pending)) this.#sendError(res, error);
      },
    );
  }

  /**
   * Runs one key operation and answers with `answer(result, corked)`. A local key runs synchronously
   * inside the uWS handler (already corked); a key another shard owns is answered later, corked then.
   */
  #run(
    res: HttpResponse,
    pending: Pending | undefined,
    op: OpKind,
    key: string,
    value: string | undefined,
    answer: (result: OpResult) => string,
    statusOf: (result: OpResult) => number,
    contentType: (result: OpResult) => string = jsonType,
  ): void {
    let deferred: Pending | undefined = pending;
    let sync = true;
    let settled = false;
    this.#opts.router.execute(op, key, value, (result) => {
      settled = true;
      if (deferred !== undefined && !this.#finish(deferred)) return;
      if (result.error !== undefined) {
        this.#sendError(res, result.error);
        return;
      }
      const body = answer(result);
      if (sync && pending === undefined) this.#write(res, statusOf(result), contentType(result), body);
      else this.#send(res, statusOf(result), contentType(result), body);
    });
    sync = false;
    if (!settled && deferred === undefined) deferred = this.#defer(res);
    if (this.#debug) this.#opts.logger.debug({ op, key }, 'request');
  }

  // ---- routes ---------------------------------------------------------------------------------

  #answerJson(op: OpKind, key: string, sentValue: string | undefined, result: OpResult): string {
    const json = this.#json;
    if (op === 'get') return json.get(key, result.found ? result.value : undefined, timestampOf(result));
    if (op === 'put') return json.put(key, sentValue ?? '', timestampOf(result) ?? '');
    return json.remove(
      key,
      result.found ? result.value : undefined,
      result.found ? timestampOf(result) : undefined,
    );
  }

  /** POST /add, POST /get, DELETE /remove: upstream's shapes, 200 even for a missing key (as upstream). */
  #upstreamOp(res: HttpResponse, pending: Pending, op: OpKind, body: Uint8Array, needsValue: boolean): void {
    const { key, value } = parseKeyValueBody(body, needsValue, this.#opts.limits);
    this.#run(res, pending, op, key, value, (result) => this.#answerJson(op, key, value, result), always200);
  }

  /** The key of a /kv/ URL, or undefined after answering the error (a bad key, a key too large). */
  #restKey(res: HttpResponse, req: HttpRequest): string | undefined {
    try {
      return keyFromPath(req.getUrl(), KV_PREFIX, this.#opts.limits);
    } catch (error) {
      this.#sendError(res, error);
      return undefined;
    }
  }

  #restGet(res: HttpResponse, req: HttpRequest): void {
    const key = this.#restKey(res, req);
    if (key === undefined) return;
    if (wantsRawValue(req.getQuery(), req.getHeader('accept'))) {
      this.#run(
        res,
        undefined,
        'get',
        key,
        undefined,
        (result) =>
          result.found ? (result.value ?? '') : errorJson(ErrorCodes.NOT_FOUND, Messages.missing(key)),
        foundOr404,
        (result) => (result.found ? OCTET_TYPE : JSON_TYPE),
      );
      return;
    }
    this.#run(
      res,
      undefined,
      'get',
      key,
      undefined,
      (result) => this.#answerJson('get', key, undefined, result),
      foundOr404,
    );
  }

  #restPut(res: HttpResponse, req: HttpRequest): void {
    const key = this.#restKey(res, req);
    if (key === undefined) return; // answered at once: uWS discards the body
    const limits = this.#opts.limits;
    // Like Riak's returnbody: the value is echoed only on request. Escaping a large value back into
    // JSON cost more than everything else a PUT does (a third of the CPU for 64 KiB values).
    const echo = wantsReturnBody(req.getQuery());
    this.#withBody(res, req, (body, pending) => {
      checkValueBytes(body.byteLength, limits, 'the value');
      const value = decodeUtf8(body, 'the value');
      this.#run(
        res,
        pending,
        'put',
        key,
        value,
        (result) =>
          echo
            ? this.#answerJson('put', key, value, result)
            : this.#json.putWithoutValue(key, timestampOf(result) ?? ''),
        always200,
      );
    });
  }

  #restRemove(res: HttpResponse, req: HttpRequest): void {
    const key = this.#restKey(res, req);
    if (key === undefined) return;
    this.#run(
      res,
      undefined,
      'remove',
      key,
      undefined,
      (result) => this.#answerJson('remove', key, undefined, result),
      foundOr404,
    );
  }

  /**
   * POST /batch. Its answer is assembled in memory, and one batch may ask for far more than it sends
   * (10,000 GETs of one 1 MiB value), so the shard bounds what it assembles: at most
   * MAX_ACTIVE_BATCHES run at once (the others wait their turn, up to MAX_WAITING_BATCHES; past that
   * the batch is answered 503 before any operation runs); each runs BATCH_WINDOW operations at a time;
   * and the answer bytes of all running batches have a budget. The oldest running batch may use the
   * whole budget for itself (so it always progresses); a GET whose item would overrun the budget is
   * answered, in the batch, with a per-item LALLY_ERR_BUSY (status "partial"). A write's item is never
   * replaced: a write that happened is reported as such.
   */
  #batch(res: HttpResponse, req: HttpRequest): void {
    this.#withBody(res, req, (body, pending) => {
      const ops = parseBatchBody(body, this.#opts.limits);
      if (this.#activeBatches.length < MAX_ACTIVE_BATCHES) {
        this.#runBatch(res, pending, ops);
        return;
      }
      if (this.#waitingBatches.length >= MAX_WAITING_BATCHES) {
        this.counters.batchesBusy++;
        throw new LallyError(
          ErrorCodes.BUSY,
          `this shard has ${this.#waitingBatches.length} batches waiting to run; retry`,
        );
      }
      this.#waitingBatches.push(() => this.#runBatch(res, pending, ops));
    });
  }

  #runBatch(res: HttpResponse, pending: Pending, ops: readonly BatchOp[]): void {
    if (pending.aborted) {
      this.#startWaitingBatch();
      return;
    }
    const batch = { bytes: 0 };
    this.#activeBatches.push(batch);
    const parts: string[] = new Array(ops.length);
    let next = 0;
    let running = 0;
    let remaining = ops.length;
    let failures = 0;
    let pumping = false;
    const end = () => {
      this.#batchBytes -= batch.bytes;
      this.#activeBatches.splice(this.#activeBatches.indexOf(batch), 1);
      // Not from here: a batch of local keys finishes synchronously, and the queue may be long.
      queueMicrotask(() => this.#startWaitingBatch());
    };
    const done = () => {
      const answer =
        `{"status":"${failures === 0 ? 'success' : 'partial'}","count":${ops.length},` +
        `"results":[${parts.join(',')}]}`;
      end();
      if (this.#finish(pending)) this.#send(res, 200, JSON_TYPE, answer);
    };
    /** Whether `size` more bytes would overrun the budget (the oldest batch may use all of it). */
    const overBudget = (size: number) =>
      batch.bytes + size > this.#batchBudget ||
      (this.#activeBatches[0] !== batch && this.#batchBytes + size > this.#batchBudget);
    // Set once a GET of this batch was refused for the budget: its later GETs are refused without
    // running (fetching a value only to drop it would copy, say, 10 GB through the rings for 10,000
    // GETs of one 1 MiB value).
    let spent = false;
    const settle = (index: number, op: BatchOp, outcome: OpResult) => {
      let result = outcome;
      if (op.op === 'get' && result.found && overBudget((result.value?.length ?? 0) + op.key.length)) {
        spent = true;
        this.counters.batchItemsBusy++;
        result = busyResult(this.#batchBudget);
      }
      if (result.error !== undefined) failures++;
      const item = batchItemJson(op, result);
      parts[index] = item;
      batch.bytes += item.length;
      this.#batchBytes += item.length;
    };
    const pump = () => {
      if (pumping) return; // an operation answered synchronously: the loop below goes on
      pumping = true;
      while (next < ops.length && running < BATCH_WINDOW && !pending.aborted) {
        const index = next++;
        const op = ops[index]!;
        if (op.op === 'get' && (spent || overBudget(0))) {
          this.counters.batchItemsBusy++;
          settle(index, op, busyResult(this.#batchBudget));
          if (--remaining === 0) done();
          continue;
        }
        running++;
        this.#opts.router.execute(op.op, op.key, op.value, (result) => {
          running--;
          if (pending.aborted) {
            // The client is gone: run nothing more, and free the batch once all its hops are back.
            if (running === 0) end();
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

  #startWaitingBatch(): void {
    if (this.#activeBatches.length < MAX_ACTIVE_BATCHES) this.#waitingBatches.shift()?.();
  }

  #nodes(res: HttpResponse): void {
    this.#send(res, 200, JSON_TYPE, JSON.stringify({ status: 'success', nodes: this.#opts.nodes() }));
  }

  #stats(res: HttpResponse): void {
    const pending = this.#defer(res);
    this.#opts.stats((json) => {
      if (this.#finish(pending)) this.#send(res, 200, JSON_TYPE, json);
    });
  }
}

export function createHttpApp(uws: UwsModule, api: HttpApi): TemplatedApp {
  return api.register(uws.App());
}

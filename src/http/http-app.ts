import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Logger } from 'pino';
import { ErrorCodes, LallyError } from '../errors.js';
import type { KeyValueService, OpKind, OpResult } from '../kv/key-value-service.js';
import type { MemberView } from '../kv/member-view.js';
import type { ValueInput } from '../kv/value-input.js';
import type { ApiRoute } from '../metrics/shard-metrics.js';
import { BearerTokens, OPEN_ROUTES, withBearerAuth } from './auth-guard.js';
import { detachBodyOps } from './batch-body.js';
import { timestampOf } from './batch-json.js';
import { BATCH_DEFAULTS, BatchRunner, defaultBatchBudget } from './batch-runner.js';
import { BodyBuffers } from './body-buffers.js';
import { BodyDeadlines } from './body-deadlines.js';
import { readBody, withFramingChecks } from './body-reader.js';
import type { HttpSecurity } from './http-security.js';
import { KvJson } from './kv-json.js';
import { wantsRawValue, wantsReturnBody } from './query-flags.js';
import {
  checkUtf8,
  checkValueBytes,
  decodeUtf8,
  keyFromPath,
  parseBatchBody,
  parseKeyValueBody,
  type RequestLimits,
} from './request-parsing.js';
import { errorAnswer, errorJson, JSON_TYPE, Messages, OCTET_TYPE, statusLine } from './responses.js';
import { RestGetSink } from './rest-get-sink.js';
import type { UwsModule } from './uws-native.js';

export interface HttpAppOptions {
  /** The data: the shard router on a single node; the cluster's coordinator later. */
  readonly service: KeyValueService;
  readonly limits: RequestLimits;
  readonly logger: Logger;
  /** How long a request body may take once its head came (body_timeout_ms; 0: no bound). */
  readonly bodyTimeoutMs?: number;
  /** Budget of the batch answers one shard assembles at once (src/http/batch-runner.ts). */
  readonly batchAnswerBudgetBytes?: number;
  /** The other members' gRPC addresses (GET /nodes). */
  nodes(): readonly string[];
  /** Every member as this node sees it (GET /cluster). */
  cluster(): readonly MemberView[];
  /** The whole node's figures (GET /stats), gathered from every shard. */
  stats(callback: (json: string) => void): void;
  /**
   * The whole node's figures in Prometheus text (GET /metrics), or an error when they could not be
   * rendered in time. Without it, /metrics is not a route.
   */
  metrics?(callback: (answer: { contentType: string; text: string } | LallyError) => void): void;
  /** Whether the node serves (GET /readyz): undefined when ready, else why not. */
  notReady?(): { phase: string; reason: string } | undefined;
  /** Wraps the service one route uses, to count its operations (shard metrics); none: uncounted. */
  meter?(route: ApiRoute, service: KeyValueService): KeyValueService;
}

/**
 * The content-type header of nearly every answer, as bytes: uWS measures and copies a JS string
 * into UTF-8 on every call, and these two were two of its calls per request.
 */
const CONTENT_TYPE = Buffer.from('content-type');
const JSON_TYPE_BYTES = Buffer.from(JSON_TYPE);
const jsonType = (): string => JSON_TYPE;
const always200 = (): number => 200;
const foundOr404 = (result: OpResult): number => (result.found ? 200 : 404);

const KV_PREFIX = '/kv/';
const LIVE_JSON = JSON.stringify({ status: 'success', live: true });
const READY_JSON = JSON.stringify({ status: 'success', ready: true, phase: 'ready' });
export const GREETING = 'Hello World! from lally';

/** A result's value: its bytes (valid in the callback) when the service has them, else the string. */
function storedValue(result: OpResult): Uint8Array | string | undefined {
  return result.valueBytes ?? result.value;
}

/** Tracks one request that is answered later (after a hop, a sync, or its body). */
interface Pending {
  aborted: boolean;
}

/**
 * The HTTP API of one shard: upstream's routes (/add, /get, /remove, /nodes, /greet), REST routes under
 * /kv/, /batch, /stats and /metrics, and the probes /livez and /readyz. Every shard serves all of them on the same port; the key-value service
 * (the shard router, which sends each key to its owner) runs the operations, and its results say
 * which quorum they reached. See docs/api.md.
 */
export class HttpApi {
  readonly #opts: HttpAppOptions;
  readonly #debug: boolean;
  /** Requests accepted and not answered yet: a graceful shutdown waits for them. */
  inFlight = 0;
  /** When set, answers ask clients to close their connection (we are shutting down). */
  closing = false;
  readonly counters = { requests: 0, errors: 0 };
  readonly #batches: BatchRunner;
  /** Batches refused whole, and batch GET items answered BUSY (the batch budget, see #batch). */
  get batchCounters(): Readonly<{ batchesBusy: number; itemsBusy: number }> {
    return this.#batches.counters;
  }

  readonly #json: KvJson;
  readonly #bodyDeadlines: BodyDeadlines;
  /** Buffers of bodies in several chunks, reused (src/http/body-buffers.ts says why). */
  readonly #bodyBuffers = new BodyBuffers();
  /** The service as each route uses it: counted when shard metrics are on. */
  readonly #kv: KeyValueService;
  readonly #upstream: KeyValueService;
  /** `GET /kv/:key` answered at once when the service can (KeyValueService.readNow), into #getSink. */
  readonly #readNow: ((key: string, sink: RestGetSink) => boolean) | undefined;
  readonly #getSink: RestGetSink;

  constructor(opts: HttpAppOptions) {
    this.#opts = opts;
    this.#bodyDeadlines = new BodyDeadlines(opts.bodyTimeoutMs ?? 0);
    this.#json = new KvJson();
    const meter = (route: ApiRoute) => opts.meter?.(route, opts.service) ?? opts.service;
    this.#kv = meter('kv');
    this.#upstream = meter('upstream');
    this.#readNow = this.#kv.readNow?.bind(this.#kv);
    this.#getSink = new RestGetSink(this.#json, (res, status, contentType, body) =>
      this.#write(res, status, contentType, body),
    );
    const batch = meter('batch');
    this.#batches = new BatchRunner(
      (op, key, value, callback) => batch.execute(op, key, value, callback),
      {
        ...BATCH_DEFAULTS,
        budgetBytes: opts.batchAnswerBudgetBytes ?? defaultBatchBudget(opts.limits.maxValueBytes),
      },
      batch.readNow?.bind(batch),
      batch.readNowBytes?.bind(batch),
    );
    this.#debug = opts.logger.isLevelEnabled('debug');
  }

  register(app: TemplatedApp): TemplatedApp {
    const allow = (methods: string) => (res: HttpResponse, req: HttpRequest) =>
      this.#methodNotAllowed(res, req, methods);
    this.#registerProbes(app);
    if (this.#opts.metrics !== undefined) {
      app.get('/metrics', (res) => this.#metrics(res)).any('/metrics', allow('GET'));
    }
    return app
      .get('/greet', (res) => this.#send(res, 200, 'text/plain; charset=utf-8', GREETING))
      .get('/nodes', (res) => this.#nodes(res))
      .get('/cluster', (res) => this.#cluster(res))
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
      .any('/cluster', allow('GET'))
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

  /** GET /livez and GET /readyz (OPEN_ROUTES): registered apart, so that a guard of the API can skip them. */
  #registerProbes(app: TemplatedApp): void {
    const allow = (res: HttpResponse, req: HttpRequest) => this.#methodNotAllowed(res, req, 'GET');
    app
      .get('/livez', (res) => this.#send(res, 200, JSON_TYPE, LIVE_JSON))
      .get('/readyz', (res) => this.#readyz(res))
      .any('/livez', allow)
      .any('/readyz', allow);
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
    if (status !== 200) {
      this.counters.errors++;
      res.writeStatus(statusLine(status));
    }
    res.writeHeader(CONTENT_TYPE, contentType === JSON_TYPE ? JSON_TYPE_BYTES : contentType);
    if (extra !== undefined) res.writeHeader(extra[0], extra[1]);
    // A 408 closes: the rest of that body may still be on its way.
    res.end(body, this.closing || status === 408);
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
      this.#bodyDeadlines,
      this.#bodyBuffers,
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
    value: ValueInput | undefined,
    answer: (result: OpResult) => string | Uint8Array,
    statusOf: (result: OpResult) => number,
    contentType: (result: OpResult) => string = jsonType,
    service: KeyValueService = this.#kv,
  ): void {
    let deferred: Pending | undefined = pending;
    let sync = true;
    let settled = false;
    service.execute(op, key, value, (result) => {
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

  /** GET and REMOVE answer the value from its bytes when the service has them (never a string then). */
  #answerJson(op: OpKind, key: string, sentValue: string | undefined, result: OpResult): string | Uint8Array {
    const json = this.#json;
    const quorum = result.quorum;
    if (op === 'get') {
      return json.get(quorum, key, result.found ? storedValue(result) : undefined, timestampOf(result));
    }
    if (op === 'put') return json.put(quorum, key, sentValue ?? '', timestampOf(result) ?? '');
    return json.remove(
      quorum,
      key,
      result.found ? storedValue(result) : undefined,
      result.found ? timestampOf(result) : undefined,
    );
  }

  /** POST /add, POST /get, DELETE /remove: upstream's shapes, 200 even for a missing key (as upstream). */
  #upstreamOp(res: HttpResponse, pending: Pending, op: OpKind, body: Uint8Array, needsValue: boolean): void {
    const { key, value } = parseKeyValueBody(body, needsValue, this.#opts.limits);
    this.#run(
      res,
      pending,
      op,
      key,
      value,
      (result) => this.#answerJson(op, key, value, result),
      always200,
      jsonType,
      this.#upstream,
    );
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
    const raw = wantsRawValue(req.getQuery(), req.getHeader('accept'));
    if (this.#readNow !== undefined && this.#getNow(res, key, raw)) return;
    if (raw) {
      this.#run(
        res,
        undefined,
        'get',
        key,
        undefined,
        (result) =>
          result.found ? (storedValue(result) ?? '') : errorJson(ErrorCodes.NOT_FOUND, Messages.missing(key)),
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

  /** A GET answered inside its handler (already corked) when the service can read it now. */
  #getNow(res: HttpResponse, key: string, raw: boolean): boolean {
    const sink = this.#getSink;
    sink.res = res;
    sink.key = key;
    sink.raw = raw;
    try {
      if (!this.#readNow!(key, sink)) return false;
    } catch (error) {
      // Answered already (the failure came after the write): a second answer would be refused.
      if (sink.res === undefined) this.#opts.logger.error({ err: error }, 'GET failed after its answer');
      else this.#sendError(res, error);
    } finally {
      sink.res = undefined;
    }
    if (this.#debug) this.#opts.logger.debug({ op: 'get', key }, 'request');
    return true;
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
      // The value goes on as the body's bytes; only an echo needs its text (decoded now: the body's
      // bytes are gone once this call returns, and the answer may come later).
      const text = echo ? decodeUtf8(body, 'the value') : undefined;
      this.#run(
        res,
        pending,
        'put',
        key,
        checkUtf8(body, 'the value'),
        (result) =>
          echo
            ? this.#answerJson('put', key, text, result)
            : this.#json.putWithoutValue(result.quorum, key, timestampOf(result) ?? ''),
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

  /** POST /batch: parsed here, run within the shard's bounds by the BatchRunner. */
  #batch(res: HttpResponse, req: HttpRequest): void {
    this.#withBody(res, req, (body, pending) => {
      const ops = parseBatchBody(body, this.#opts.limits);
      let settled = false;
      try {
        this.#batches.submit(
          ops,
          () => pending.aborted,
          (json) => {
            settled = true;
            if (this.#finish(pending)) this.#send(res, 200, JSON_TYPE, json);
          },
          (error) => {
            settled = true;
            if (this.#finish(pending)) this.#sendError(res, error);
          },
        );
      } finally {
        // A batch that runs on (a hop, a sync, its turn) must not read the body uWS reclaims next.
        if (!settled) detachBodyOps(ops);
      }
    });
  }

  #nodes(res: HttpResponse): void {
    this.#send(res, 200, JSON_TYPE, JSON.stringify({ status: 'success', nodes: this.#opts.nodes() }));
  }

  #cluster(res: HttpResponse): void {
    const now = Date.now();
    const members = this.#opts.cluster().map((m) => ({
      id: m.id,
      address: m.address,
      state: m.state,
      incarnation: m.incarnation,
      self: m.self,
      last_heard: m.lastHeard === undefined ? null : new Date(m.lastHeard).toISOString(),
      last_heard_ms_ago: m.lastHeard === undefined ? null : Math.max(0, now - m.lastHeard),
      ring_share: m.ringShare ?? null,
    }));
    this.#send(res, 200, JSON_TYPE, JSON.stringify({ status: 'success', members }));
  }

  #readyz(res: HttpResponse): void {
    const notReady = this.#opts.notReady?.();
    if (notReady === undefined) {
      this.#send(res, 200, JSON_TYPE, READY_JSON);
      return;
    }
    const body = JSON.stringify({
      status: 'error',
      code: ErrorCodes.NOT_READY,
      message: notReady.reason,
      ready: false,
      phase: notReady.phase,
    });
    this.#send(res, 503, JSON_TYPE, body);
  }

  #metrics(res: HttpResponse): void {
    const pending = this.#defer(res);
    this.#opts.metrics!((answer) => {
      if (!this.#finish(pending)) return;
      if (answer instanceof LallyError) this.#sendError(res, answer);
      else this.#send(res, 200, answer.contentType, answer.text);
    });
  }

  #stats(res: HttpResponse): void {
    const pending = this.#defer(res);
    this.#opts.stats((json) => {
      if (this.#finish(pending)) this.#send(res, 200, JSON_TYPE, json);
    });
  }
}

export function createHttpApp(uws: UwsModule, api: HttpApi, security: HttpSecurity = {}): TemplatedApp {
  const { tokens, tls } = security;
  let app = withFramingChecks(
    tls === undefined ? uws.App() : uws.SSLApp({ cert_file_name: tls.certFile, key_file_name: tls.keyFile }),
  );
  if (tokens !== undefined && tokens.length > 0) {
    app = withBearerAuth(
      app,
      new BearerTokens(tokens),
      security.openRoutes ?? OPEN_ROUTES,
      security.counters ?? api.counters,
    );
  }
  return api.register(app);
}

import type { HttpResponse } from 'uWebSockets.js';
import { wallToRfc3339 } from '../clock/hlc.js';
import { ErrorCodes } from '../errors.js';
import type { Quorum, ReadSink } from '../kv/key-value-service.js';
import type { KvJson } from './kv-json.js';
import { errorJson, JSON_TYPE, Messages, OCTET_TYPE } from './responses.js';

/** Writes a whole answer to a response that is corked (inside its uWS handler). */
export type CorkedWrite = (
  res: HttpResponse,
  status: number,
  contentType: string,
  body: string | Uint8Array,
) => void;

/**
 * Where a `GET /kv/:key` answered at once (KeyValueService.readNow) writes its answer: the same bytes,
 * status and content type as the route's `execute` path, without the OpResult, the version object and
 * the closures that path makes per request. One per HTTP API: the route sets `res`, `key` and `raw`
 * before each read (the sink is called before readNow returns, so one request uses it at a time);
 * `res` is cleared once the answer is written.
 */
export class RestGetSink implements ReadSink {
  res: HttpResponse | undefined;
  key = '';
  /** `?raw` or `Accept: application/octet-stream`: the value's bytes alone. */
  raw = false;
  readonly #json: KvJson;
  readonly #write: CorkedWrite;

  constructor(json: KvJson, write: CorkedWrite) {
    this.#json = json;
    this.#write = write;
  }

  found(
    source: Uint8Array,
    start: number,
    length: number,
    wall: number,
    _counter: number,
    _node: number,
    quorum: Quorum,
  ): void {
    const valueBytes = source.subarray(start, start + length);
    if (this.raw) this.#answer(200, OCTET_TYPE, valueBytes);
    else this.#answer(200, JSON_TYPE, this.#json.get(quorum, this.key, valueBytes, wallToRfc3339(wall)));
  }

  missing(quorum: Quorum): void {
    const body = this.raw
      ? errorJson(ErrorCodes.NOT_FOUND, Messages.missing(this.key))
      : this.#json.get(quorum, this.key, undefined, undefined);
    this.#answer(404, JSON_TYPE, body);
  }

  /** Writes the answer once: `res` is cleared first, so the route knows the request was answered. */
  #answer(status: number, contentType: string, body: string | Uint8Array): void {
    const res = this.res!;
    this.res = undefined;
    this.#write(res, status, contentType, body);
  }
}

/**
 * Fast builders for the key operations' JSON answers (the hot path). They produce exactly what
 * `kvAnswerJson` in responses.ts produces for the same answer (a test holds them to it), with the
 * constant parts concatenated once per node instead of once per request.
 */
import { Messages } from './responses.js';

function quorumFragment(required: number, achieved: number): string {
  const status = achieved >= required ? 'success' : 'partial';
  return `{"status":"${status}","key":`;
}

/** `"quorum":{...},"message":` and the opening of the message, shared by every answer of one kind. */
function tail(required: number, achieved: number): string {
  return `,"quorum":{"required":${required},"achieved":${achieved}},"message":`;
}

export class KvJson {
  readonly #readHead: string;
  readonly #readTail: string;
  readonly #writeHead: string;
  readonly #writeTail: string;

  constructor(readQuorum: number, writeQuorum: number, achieved = 1) {
    this.#readHead = quorumFragment(readQuorum, achieved);
    this.#readTail = tail(readQuorum, achieved);
    this.#writeHead = quorumFragment(writeQuorum, achieved);
    this.#writeTail = tail(writeQuorum, achieved);
  }

  /** GET: found (value and timestamp given) or missing (both undefined). */
  get(key: string, value: string | undefined, timestamp: string | undefined): string {
    const quotedKey = JSON.stringify(key);
    if (value === undefined) {
      return `${this.#readHead}${quotedKey},"value":null,"timestamp":null${this.#readTail}${JSON.stringify(Messages.missing(key))}}`;
    }
    return `${this.#readHead}${quotedKey},"value":${JSON.stringify(value)},"timestamp":"${timestamp}"${this.#readTail}${JSON.stringify(Messages.fetched(key))}}`;
  }

  put(key: string, value: string, timestamp: string): string {
    return `${this.#writeHead}${JSON.stringify(key)},"value":${JSON.stringify(value)},"timestamp":"${timestamp}"${this.#writeTail}"${Messages.added()}"}`;
  }

  /** REMOVE: the removed value and the delete's timestamp, or undefined for both when nothing was live. */
  remove(key: string, value: string | undefined, timestamp: string | undefined): string {
    const quotedKey = JSON.stringify(key);
    if (value === undefined) {
      return `${this.#writeHead}${quotedKey},"value":null,"timestamp":null${this.#writeTail}${JSON.stringify(Messages.removeMissing(key))}}`;
    }
    return `${this.#writeHead}${quotedKey},"value":${JSON.stringify(value)},"timestamp":"${timestamp}"${this.#writeTail}${JSON.stringify(Messages.removed(key))}}`;
  }
}

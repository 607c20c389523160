/**
 * Fast builders for the key operations' JSON answers (the hot path). They produce exactly what
 * `kvAnswerJson` in responses.ts produces for the same answer (a test holds them to it), with the
 * constant parts concatenated once per node instead of once per request. Messages are built from the
 * key's JSON-escaped text: JSON escaping of the message text around it would not change it (the
 * message templates contain no character that needs escaping).
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
    // The messages embed the key: reuse its escaped form instead of escaping the message again.
    const escapedKey = quotedKey.slice(1, -1);
    if (value === undefined) {
      return `${this.#readHead}${quotedKey},"value":null,"timestamp":null${this.#readTail}"${Messages.missing(escapedKey)}"}`;
    }
    return `${this.#readHead}${quotedKey},"value":${JSON.stringify(value)},"timestamp":"${timestamp}"${this.#readTail}"${Messages.fetched(escapedKey)}"}`;
  }

  put(key: string, value: string, timestamp: string): string {
    return `${this.#writeHead}${JSON.stringify(key)},"value":${JSON.stringify(value)},"timestamp":"${timestamp}"${this.#writeTail}"${Messages.added()}"}`;
  }

  /** A REST PUT's answer without the value echoed back: the upstream shape less `value`. */
  putWithoutValue(key: string, timestamp: string): string {
    return `${this.#writeHead}${JSON.stringify(key)},"timestamp":"${timestamp}"${this.#writeTail}"${Messages.added()}"}`;
  }

  /** REMOVE: the removed value and the delete's timestamp, or undefined for both when nothing was live. */
  remove(key: string, value: string | undefined, timestamp: string | undefined): string {
    const quotedKey = JSON.stringify(key);
    const escapedKey = quotedKey.slice(1, -1);
    if (value === undefined) {
      return `${this.#writeHead}${quotedKey},"value":null,"timestamp":null${this.#writeTail}"${Messages.removeMissing(escapedKey)}"}`;
    }
    return `${this.#writeHead}${quotedKey},"value":${JSON.stringify(value)},"timestamp":"${timestamp}"${this.#writeTail}"${Messages.removed(escapedKey)}"}`;
  }
}

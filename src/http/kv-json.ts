/**
 * Fast builders for the key operations' JSON answers (the hot path). They produce exactly what
 * `kvAnswerJson` in responses.ts produces for the same answer (a test holds them to it), with the
 * constant parts concatenated once per node instead of once per request. Messages are built from the
 * key's JSON-escaped text: JSON escaping of the message text around it would not change it (the
 * message templates contain no character that needs escaping).
 */
import type { Quorum } from '../kv/key-value-service.js';
import { Messages } from './responses.js';

/** `{"status":...,"key":` and `,"quorum":{...},"message":`: the constant parts around an answer. */
interface QuorumText {
  readonly head: string;
  readonly tail: string;
}

function quorumText(quorum: Quorum): QuorumText {
  const { required, achieved } = quorum;
  const status = achieved >= required ? 'success' : 'partial';
  return {
    head: `{"status":"${status}","key":`,
    tail: `,"quorum":{"required":${required},"achieved":${achieved}},"message":`,
  };
}

/**
 * The builders take the quorum each result carries. The texts around it are cached per quorum: the
 * single node hands out two quorum objects for ever (an identity check finds them); a cluster's
 * results have few distinct (required, achieved) pairs (a small map finds them).
 */
export class KvJson {
  #lastQuorum: Quorum | undefined;
  #lastText: QuorumText = quorumText({ required: 1, achieved: 1 });
  readonly #texts = new Map<number, QuorumText>();

  #text(quorum: Quorum): QuorumText {
    if (quorum === this.#lastQuorum) return this.#lastText;
    const id = quorum.required * 0x10000 + quorum.achieved;
    let text = this.#texts.get(id);
    if (text === undefined) {
      text = quorumText(quorum);
      if (this.#texts.size < 1024) this.#texts.set(id, text);
    }
    this.#lastQuorum = quorum;
    this.#lastText = text;
    return text;
  }

  /** GET: found (value and timestamp given) or missing (both undefined). */
  get(quorum: Quorum, key: string, value: string | undefined, timestamp: string | undefined): string {
    const { head, tail } = this.#text(quorum);
    const quotedKey = JSON.stringify(key);
    // The messages embed the key: reuse its escaped form instead of escaping the message again.
    const escapedKey = quotedKey.slice(1, -1);
    if (value === undefined) {
      return `${head}${quotedKey},"value":null,"timestamp":null${tail}"${Messages.missing(escapedKey)}"}`;
    }
    return `${head}${quotedKey},"value":${JSON.stringify(value)},"timestamp":"${timestamp}"${tail}"${Messages.fetched(escapedKey)}"}`;
  }

  put(quorum: Quorum, key: string, value: string, timestamp: string): string {
    const { head, tail } = this.#text(quorum);
    return `${head}${JSON.stringify(key)},"value":${JSON.stringify(value)},"timestamp":"${timestamp}"${tail}"${Messages.added()}"}`;
  }

  /** A REST PUT's answer without the value echoed back: the upstream shape less `value`. */
  putWithoutValue(quorum: Quorum, key: string, timestamp: string): string {
    const { head, tail } = this.#text(quorum);
    return `${head}${JSON.stringify(key)},"timestamp":"${timestamp}"${tail}"${Messages.added()}"}`;
  }

  /** REMOVE: the removed value and the delete's timestamp, or undefined for both when nothing was live. */
  remove(quorum: Quorum, key: string, value: string | undefined, timestamp: string | undefined): string {
    const { head, tail } = this.#text(quorum);
    const quotedKey = JSON.stringify(key);
    const escapedKey = quotedKey.slice(1, -1);
    if (value === undefined) {
      return `${head}${quotedKey},"value":null,"timestamp":null${tail}"${Messages.removeMissing(escapedKey)}"}`;
    }
    return `${head}${quotedKey},"value":${JSON.stringify(value)},"timestamp":"${timestamp}"${tail}"${Messages.removed(escapedKey)}"}`;
  }
}

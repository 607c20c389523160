/**
 * Fast builders for the key operations' JSON answers (the hot path). They produce exactly what
 * `kvAnswerJson` in responses.ts produces for the same answer (a test holds them to it), with the
 * constant parts concatenated once per node instead of once per request. Messages are built from the
 * key's JSON-escaped text: JSON escaping of the message text around it would not change it (the
 * message templates contain no character that needs escaping).
 *
 * GET and REMOVE answer a stored value: they are built as UTF-8 bytes (src/http/json-bytes.ts) from
 * the value's bytes when the service has them, so a value is never a string on that path. Their
 * answer is a view of one buffer of the builder, valid until its next call (uWS copies it).
 */
import type { Quorum } from '../kv/key-value-service.js';
import { JsonBytes } from './json-bytes.js';
import { Messages } from './responses.js';

/** `{"status":...,"key":` and `,"quorum":{...},"message":`: the constant parts around an answer. */
interface QuorumText {
  readonly head: string;
  readonly tail: string;
  /** head, and `"` + tail + `"` (the timestamp's closing quote, the message's opening one), as UTF-8. */
  readonly headBytes: Uint8Array;
  readonly tailBytes: Uint8Array;
  /** `null` + tail + `"`: a missing key's timestamp and what follows. */
  readonly nullTailBytes: Uint8Array;
}

function quorumText(quorum: Quorum): QuorumText {
  const { required, achieved } = quorum;
  const status = achieved >= required ? 'success' : 'partial';
  const head = `{"status":"${status}","key":`;
  const tail = `,"quorum":{"required":${required},"achieved":${achieved}},"message":`;
  return {
    head,
    tail,
    headBytes: Buffer.from(head),
    tailBytes: Buffer.from(`"${tail}"`),
    nullTailBytes: Buffer.from(`null${tail}"`),
  };
}

/** A message around its key (escaped), as UTF-8: before the key, and after it with the closing `"}`. */
interface MessageBytes {
  readonly before: Uint8Array;
  readonly after: Uint8Array;
}

/** The key is never NUL in escaped text (JSON writes it \u0000): it marks where the key goes. */
function messageBytes(message: (key: string) => string): MessageBytes {
  const [before, after] = message('\u0000').split('\u0000') as [string, string];
  return { before: Buffer.from(before), after: Buffer.from(`${after}"}`) };
}

const FETCHED = messageBytes(Messages.fetched);
const MISSING = messageBytes(Messages.missing);
const REMOVED = messageBytes(Messages.removed);
const REMOVE_MISSING = messageBytes(Messages.removeMissing);
const VALUE = Buffer.from(',"value":');
const TIMESTAMP = Buffer.from(',"timestamp":"');
const NULL_VALUE = Buffer.from(',"value":null,"timestamp":');
/** The PUT's message and the answer's end. */
const ADDED = Buffer.from(`${Messages.added()}"}`);

/**
 * The builders take the quorum each result carries. The texts around it are cached per quorum: the
 * single node hands out two quorum objects for ever (an identity check finds them); a cluster's
 * results have few distinct (required, achieved) pairs (a small map finds them).
 */
export class KvJson {
  readonly #out = new JsonBytes();
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

  /**
   * GET: found (value and timestamp given) or missing (both undefined). The value as UTF-8 bytes, or
   * as a string (a service that has no bytes of it).
   */
  get(
    quorum: Quorum,
    key: string,
    value: Uint8Array | string | undefined,
    timestamp: string | undefined,
  ): Uint8Array {
    return value === undefined
      ? this.#answer(quorum, key, undefined, undefined, MISSING)
      : this.#answer(quorum, key, value, timestamp, FETCHED);
  }

  /**
   * `{"status":…,"key":K,"value":V,"timestamp":"T","quorum":{…},"message":"…K…"}` with V and T, or
   * with null for both when value is undefined.
   */
  #answer(
    quorum: Quorum,
    key: string,
    value: Uint8Array | string | undefined,
    timestamp: string | undefined,
    message: MessageBytes,
  ): Uint8Array {
    const text = this.#text(quorum);
    const out = this.#out.reset();
    const quotedKey = JSON.stringify(key);
    out.bytes(text.headBytes).text(quotedKey);
    if (value === undefined) out.bytes(NULL_VALUE).bytes(text.nullTailBytes);
    else {
      out.bytes(VALUE);
      if (typeof value === 'string') out.stringOfText(value);
      else out.string(value);
      out.bytes(TIMESTAMP).text(`${timestamp}`).bytes(text.tailBytes);
    }
    // The message embeds the key: its escaped form, without the quotes.
    return out
      .bytes(message.before)
      .text(quotedKey, 1, quotedKey.length - 1)
      .bytes(message.after)
      .view();
  }

  put(quorum: Quorum, key: string, value: string, timestamp: string): string {
    const { head, tail } = this.#text(quorum);
    return `${head}${JSON.stringify(key)},"value":${JSON.stringify(value)},"timestamp":"${timestamp}"${tail}"${Messages.added()}"}`;
  }

  /**
   * A REST PUT's answer without the value echoed back: the upstream shape less `value`, as UTF-8 (a
   * view valid until the next call, like #answer's).
   */
  putWithoutValue(quorum: Quorum, key: string, timestamp: string): Uint8Array {
    const text = this.#text(quorum);
    return this.#out
      .reset()
      .bytes(text.headBytes)
      .text(JSON.stringify(key))
      .bytes(TIMESTAMP)
      .text(timestamp)
      .bytes(text.tailBytes)
      .bytes(ADDED)
      .view();
  }

  /** REMOVE: the removed value and the delete's timestamp, or undefined for both when nothing was live. */
  remove(
    quorum: Quorum,
    key: string,
    value: Uint8Array | string | undefined,
    timestamp: string | undefined,
  ): Uint8Array {
    return value === undefined
      ? this.#answer(quorum, key, undefined, undefined, REMOVE_MISSING)
      : this.#answer(quorum, key, value, timestamp, REMOVED);
  }
}

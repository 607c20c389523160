/**
 * Writes a whole AOF file in one go (a compacted base, a re-routed shard, an import): header, records
 * buffered into large writes, then fsync. Not the hot append path (that is ShardAof).
 */
import { type FileHandle, open } from 'node:fs/promises';
import { type AofFileKind, encodeHeader, encodeRecordInto, maxEncodedSize } from './format.js';
import type { AofRecord } from './types.js';

const FLUSH_BYTES = 1 << 20;

export class AofFileWriter {
  readonly path: string;
  #fh: FileHandle;
  #buf = Buffer.allocUnsafe(FLUSH_BYTES * 2);
  #len = 0;
  #bytes = 0;
  #records = 0;

  private constructor(path: string, fh: FileHandle) {
    this.path = path;
    this.#fh = fh;
  }

  /** Creates `path` (which must not exist) and writes the header. */
  static async create(path: string, header: { kind: AofFileKind; shard: number; shards: number }) {
    const fh = await open(path, 'wx');
    const writer = new AofFileWriter(path, fh);
    writer.#push(encodeHeader(header));
    return writer;
  }

  get bytes(): number {
    return this.#bytes + this.#len;
  }

  get records(): number {
    return this.#records;
  }

  async append(record: AofRecord): Promise<void> {
    this.#ensure(maxEncodedSize(record));
    this.#len += encodeRecordInto(this.#buf, this.#len, record);
    this.#records++;
    if (this.#len >= FLUSH_BYTES) await this.#flush();
  }

  /** Appends a record already encoded (as read from another file: its checksum stays valid). */
  async appendRaw(bytes: Uint8Array): Promise<void> {
    this.#push(bytes);
    this.#records++;
    if (this.#len >= FLUSH_BYTES) await this.#flush();
  }

  /** Writes what is buffered, fsyncs and closes. */
  async finish(): Promise<{ bytes: number; records: number }> {
    await this.#flush();
    await this.#fh.sync();
    await this.#fh.close();
    return { bytes: this.#bytes, records: this.#records };
  }

  /** Closes without syncing (after an error: the caller deletes the file). */
  async abandon(): Promise<void> {
    await this.#fh.close().catch(() => undefined);
  }

  #push(bytes: Uint8Array): void {
    this.#ensure(bytes.length);
    this.#buf.set(bytes, this.#len);
    this.#len += bytes.length;
  }

  #ensure(free: number): void {
    if (this.#buf.length - this.#len >= free) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#len + free));
    this.#buf.copy(grown, 0, 0, this.#len);
    this.#buf = grown;
  }

  async #flush(): Promise<void> {
    let done = 0;
    while (done < this.#len) {
      done += (await this.#fh.write(this.#buf, done, this.#len - done)).bytesWritten;
    }
    this.#bytes += this.#len;
    this.#len = 0;
  }
}

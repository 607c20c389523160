import { connect, type Socket } from 'node:net';

/**
 * One keep-alive HTTP/1.1 connection with one request in flight: the way to see the latency that a
 * server adds to a single request (a shard hop, for instance) without queueing in the way.
 */
export class SequentialClient {
  #buffer: Buffer = Buffer.alloc(0);
  #waiting: ((status: number) => void) | null = null;
  #failed: ((error: Error) => void) | null = null;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
      this.#tryComplete();
    });
    socket.on('error', (error) => this.#failed?.(error));
    socket.on('close', () => this.#failed?.(new Error('the server closed the connection')));
  }

  static connect(port: number, host = '127.0.0.1'): Promise<SequentialClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host, () => resolve(new SequentialClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends one raw request and resolves with the status once the whole answer is in. */
  request(raw: Buffer): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#waiting = resolve;
      this.#failed = reject;
      this.socket.write(raw);
    });
  }

  #tryComplete(): void {
    const headerEnd = this.#buffer.indexOf('\r\n\r\n');
    if (headerEnd < 0 || !this.#waiting) return;
    const head = this.#buffer.subarray(0, headerEnd).toString('latin1');
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    let end: number;
    if (length) {
      end = headerEnd + 4 + Number(length[1]);
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const terminator = this.#buffer.indexOf('\r\n0\r\n\r\n', headerEnd);
      if (terminator < 0) return;
      end = terminator + 7;
    } else {
      end = headerEnd + 4;
    }
    if (this.#buffer.length < end) return;
    this.#buffer = this.#buffer.subarray(end);
    const done = this.#waiting;
    this.#waiting = null;
    this.#failed = null;
    done(status);
  }

  close(): void {
    this.#failed = null;
    this.socket.destroy();
  }
}

/** A GET request of `path` as raw bytes. */
export function rawGet(path: string): Buffer {
  return Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, 'latin1');
}

/** A PUT of `path` with a plain-text body, as raw bytes. */
export function rawPut(path: string, body: string): Buffer {
  return Buffer.from(
    `PUT ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    'latin1',
  );
}

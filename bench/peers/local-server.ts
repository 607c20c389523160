import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { captureTail, spawnTracked, stopChild } from '../proc/children.js';
import { freePort } from '../proc/ports.js';
import { waitReady } from '../proc/wait-ready.js';

/** A peer server of this folder (uws-ceiling, node-http-map) running in its own process. */
export class LocalServer {
  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
  ) {}

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Starts `bench/peers/<script>.js --port P <args>` and waits until GET /greet answers. */
  static async start(script: 'uws-ceiling' | 'node-http-map', args: string[]): Promise<LocalServer> {
    const port = await freePort();
    const path = fileURLToPath(new URL(`./${script}.js`, import.meta.url));
    const child = spawnTracked(process.execPath, [path, '--port', String(port), ...args]);
    const tail = captureTail(child);
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitReady(`${url}/greet`, child, 15_000, tail);
    } catch (error) {
      await stopChild(child, 500);
      throw error;
    }
    return new LocalServer(child, url);
  }

  stop(): Promise<number | null> {
    return stopChild(this.child, 2000);
  }
}

export interface BodySizes {
  getBytes: number;
  putBytes: number;
  batchBytes: number;
}

/**
 * The uWS ceiling servers of a run. At most one runs at a time (an idle server still holds memory and
 * threads); asking for other threads or body sizes replaces it.
 */
export class CeilingServers {
  #current: { key: string; server: LocalServer } | null = null;

  async get(threads: number, sizes: BodySizes): Promise<LocalServer> {
    const key = `${threads}|${sizes.getBytes}|${sizes.putBytes}|${sizes.batchBytes}`;
    if (this.#current?.key === key) return this.#current.server;
    await this.stop();
    const server = await LocalServer.start('uws-ceiling', [
      '--threads',
      String(threads),
      '--get-bytes',
      String(sizes.getBytes),
      '--put-bytes',
      String(sizes.putBytes),
      '--batch-bytes',
      String(sizes.batchBytes),
    ]);
    this.#current = { key, server };
    return server;
  }

  async stop(): Promise<void> {
    const current = this.#current;
    this.#current = null;
    if (current) await current.server.stop();
  }
}

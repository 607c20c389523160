import { createServer, type Server } from 'node:net';
import { ErrorCodes, LallyError } from '../errors.js';

/**
 * uWS binds with SO_REUSEPORT so that every shard can share the HTTP port, which also lets a second
 * process of the same user bind it: two Lally nodes started at the same moment both passed the probe
 * in port-check.ts (it binds and releases) and then split the traffic. The lock closes that race: a
 * Linux abstract Unix socket named after the port can be bound by one process only (per network
 * namespace, like the port itself), and the kernel releases it when the process dies, even by kill -9,
 * so it never goes stale. It is taken before the probe and held until the shards have let go of the
 * port.
 *
 * The name holds the port alone, not the host: with SO_REUSEPORT on both sides, 0.0.0.0:P and
 * 127.0.0.1:P can be bound at once, so two nodes on different addresses of one port would still
 * share connections.
 */
export function httpPortLockName(port: number): string {
  return `\0lally-http-port-${port}`;
}

/** Takes the lock of `port`; undefined where there are no abstract sockets (not Linux) or for port 0. */
export function lockHttpPort(host: string, port: number): Promise<Server | undefined> {
  if (process.platform !== 'linux' || port === 0) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      const reason =
        error.code === 'EADDRINUSE'
          ? `is already in use by another Lally node on this host (it holds the lock @${httpPortLockName(port).slice(1)})`
          : `cannot be locked: ${error.message}`;
      reject(new LallyError(ErrorCodes.CONFIG, `the HTTP port ${host}:${port} ${reason}`, { cause: error }));
    });
    server.listen({ path: httpPortLockName(port) }, () => {
      server.unref(); // held for the process's life, but never what keeps it alive
      resolve(server);
    });
  });
}

import { createServer } from 'node:net';
import { ErrorCodes, LallyError } from '../errors.js';

/**
 * Fails when something already listens on host:port. uWS listens with SO_REUSEPORT (so that every
 * shard can share the port), which would also let a second Lally process on the same port start
 * silently and take half of the connections. A plain bind, without SO_REUSEPORT, notices it.
 */
export function assertPortFree(host: string, port: number, what: string): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => {
      const reason =
        error.code === 'EADDRINUSE'
          ? 'is already in use (another Lally node?)'
          : `cannot be bound: ${error.message}`;
      reject(new LallyError(ErrorCodes.CONFIG, `${what} ${host}:${port} ${reason}`, { cause: error }));
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

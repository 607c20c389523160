/**
 * Loopback ports for a scenario's daemons. A port found free by listening on port 0 comes from the
 * kernel's ephemeral range, where every other `listen(0)` and every outgoing connection of the
 * machine draws too: between the pick and the daemon's bind, another test's daemon or a client's
 * socket could take it (a node of a chaos scenario once failed to start in CI so, as far as its
 * exit before ready says). These ports are drawn below that range, where the kernel hands out none,
 * held open together until all are found (so they are distinct), then released for the daemons.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';

/** How far below the ephemeral range the ports are drawn. */
const SPAN = 10_000;

/** The first port of the kernel's ephemeral range (Linux's default when /proc does not say). */
export function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 2048 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function listen(port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

/** `count` distinct ports of 127.0.0.1 that were free a moment ago, below the ephemeral range. */
export async function freeLoopbackPorts(
  count: number,
  random: () => number = Math.random,
): Promise<number[]> {
  const high = ephemeralLow() - 1;
  const low = Math.max(1024, high - SPAN);
  const held: Server[] = [];
  const ports: number[] = [];
  try {
    for (let tries = 0; ports.length < count; tries++) {
      if (tries > count * 100) throw new Error(`no ${count} free ports between ${low} and ${high}`);
      const port = low + Math.floor(random() * (high - low + 1));
      if (ports.includes(port)) continue;
      const server = await listen(port);
      if (server === undefined) continue;
      held.push(server);
      ports.push(port);
    }
    return ports;
  } finally {
    await Promise.all(held.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

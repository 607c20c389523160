import { readdir, readFile, readlink } from 'node:fs/promises';

/**
 * Inodes of the TCP sockets that listen on `port` (any address, IPv4 and IPv6), from /proc/net/tcp{,6}.
 * Undefined where /proc cannot tell (not Linux).
 */
export async function tcpListenerInodes(port: number): Promise<Set<string> | undefined> {
  const inodes = new Set<string>();
  let readAny = false;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = await readFile(table, 'utf8');
    } catch {
      continue; // no IPv6 in this kernel, or no /proc
    }
    readAny = true;
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // sl local_address rem_address st ... uid timeout inode; st 0A is LISTEN.
      const local = fields[1];
      if (local === undefined || fields[3] !== '0A') continue;
      const localPort = Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
      if (localPort === port && fields[9] !== undefined) inodes.add(fields[9]);
    }
  }
  return readAny ? inodes : undefined;
}

/** Inodes of every socket this process holds (worker threads share the process's descriptors). */
export async function ownSocketInodes(): Promise<Set<string>> {
  const inodes = new Set<string>();
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match !== null) inodes.add(match[1]!);
  }
  return inodes;
}

/**
 * How many sockets listen on `port` that this process does not hold: another process shares the
 * port (SO_REUSEPORT) and would take part of the connections. Undefined where /proc cannot tell.
 */
export async function foreignListeners(port: number): Promise<number | undefined> {
  const listeners = await tcpListenerInodes(port);
  if (listeners === undefined) return undefined;
  const own = await ownSocketInodes();
  let foreign = 0;
  for (const inode of listeners) if (!own.has(inode)) foreign++;
  return foreign;
}

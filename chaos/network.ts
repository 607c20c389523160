/**
 * Where the nodes of a chaos run live, and how to cut them apart.
 *
 * `netns`: each node in its own network namespace, its veth pair on one bridge in the host namespace
 * (10.213.R.i/24, the harness at .254). A partition is a blackhole route in a node's namespace (its
 * packets to the other side vanish, nothing is refused); an isolation takes the node's veth link down.
 * Needs root and `ip` (iproute2); iptables and nft are not needed (and are absent on the dev machine).
 *
 * `loopback`: every node on 127.0.0.1 with its own ports; processes can be killed and paused, but
 * there is no way to cut traffic between two nodes, so partitions are refused.
 *
 * Every command that creates something records how to undo it; `cleanup()` is synchronous (it runs
 * from signal and `exit` handlers too) and undoes it all, newest first.
 */
import { spawnSync } from 'node:child_process';

export interface Network {
  readonly kind: 'netns' | 'loopback';
  hostOf(index: number): string;
  netnsOf(index: number): string | undefined;
  /** Drops `from`'s packets to `to` (and `to`'s to `from` unless `oneWay`). */
  partition(from: number, to: number, oneWay: boolean): void;
  /** Takes the node's only link down: cut off from peers and clients alike. */
  linkDown(index: number): void;
  /** Undoes every partition and link-down. */
  heal(): void;
  cleanup(): void;
}

function ip(args: string[], allowFailure = false): boolean {
  const res = spawnSync('ip', args, { encoding: 'utf8' });
  if (res.status !== 0 && !allowFailure) {
    throw new Error(`ip ${args.join(' ')} failed: ${res.stderr || res.error?.message}`);
  }
  return res.status === 0;
}

/** Whether network namespaces can be made here: root, `ip` present, `ip netns add` allowed. */
export function netnsAvailable(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = `lally-probe-${process.pid}`;
  if (!ip(['netns', 'add', probe], true)) return false;
  ip(['netns', 'del', probe], true);
  return true;
}

export function loopbackNetwork(): Network {
  return {
    kind: 'loopback',
    hostOf: () => '127.0.0.1',
    netnsOf: () => undefined,
    partition() {
      throw new Error('partitions need network namespaces (root and iproute2); this run uses loopback');
    },
    linkDown() {
      throw new Error('link faults need network namespaces (root and iproute2); this run uses loopback');
    },
    heal() {},
    cleanup() {},
  };
}

export function netnsNetwork(nodes: number): Network {
  const run = 1 + (process.pid % 250);
  const subnet = `10.213.${run}`;
  const bridge = `lch${run}br`;
  const undo: string[][] = [];
  const heals: string[][] = [];
  const ns = (i: number) => `lally-ch${run}-${i}`;
  const hostSide = (i: number) => `lch${run}h${i}`;
  const cleanup = () => {
    for (const args of heals.splice(0).reverse()) ip(args, true);
    for (const args of undo.splice(0).reverse()) ip(args, true);
  };
  try {
    ip(['link', 'add', bridge, 'type', 'bridge']);
    undo.push(['link', 'del', bridge]);
    ip(['addr', 'add', `${subnet}.254/24`, 'dev', bridge]);
    ip(['link', 'set', bridge, 'up']);
    for (let i = 0; i < nodes; i++) {
      ip(['netns', 'add', ns(i)]);
      undo.push(['netns', 'del', ns(i)]);
      // The host side goes when the namespace (holding its peer) is deleted; delete it first anyway.
      ip(['link', 'add', hostSide(i), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns(i)]);
      undo.push(['link', 'del', hostSide(i)]);
      ip(['link', 'set', hostSide(i), 'master', bridge]);
      ip(['link', 'set', hostSide(i), 'up']);
      ip(['-n', ns(i), 'addr', 'add', `${subnet}.${i + 1}/24`, 'dev', 'eth0']);
      ip(['-n', ns(i), 'link', 'set', 'lo', 'up']);
      ip(['-n', ns(i), 'link', 'set', 'eth0', 'up']);
    }
  } catch (error) {
    cleanup();
    throw error;
  }
  const hostOf = (i: number) => `${subnet}.${i + 1}`;
  const blackhole = (from: number, to: number) => {
    ip(['-n', ns(from), 'route', 'add', 'blackhole', `${hostOf(to)}/32`]);
    heals.push(['-n', ns(from), 'route', 'del', 'blackhole', `${hostOf(to)}/32`]);
  };
  return {
    kind: 'netns',
    hostOf,
    netnsOf: ns,
    partition(from, to, oneWay) {
      blackhole(from, to);
      if (!oneWay) blackhole(to, from);
    },
    linkDown(i) {
      ip(['link', 'set', hostSide(i), 'down']);
      heals.push(['link', 'set', hostSide(i), 'up']);
    },
    heal() {
      for (const args of heals.splice(0).reverse()) ip(args);
    },
    cleanup,
  };
}

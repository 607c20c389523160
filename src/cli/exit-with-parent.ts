/**
 * Preloaded (`node --import`) into each node that `lally cluster-demo` starts: the demo holds the write
 * end of the node's stdin, so when the demo dies, even by kill -9, the pipe closes and the node stops
 * itself as on SIGTERM (gracefully). No orphan outlives the demo.
 */
import type { Socket } from 'node:net';
import { isMainThread } from 'node:worker_threads';

// Shard workers inherit the preload (Node passes execArgv on); only the main thread watches stdin.
if (isMainThread) {
  const stdin = process.stdin as NodeJS.ReadStream & Partial<Pick<Socket, 'unref'>>;
  let gone = false;
  const parentGone = () => {
    if (gone) return;
    gone = true;
    process.kill(process.pid, 'SIGTERM');
  };
  stdin.on('end', parentGone);
  stdin.on('close', parentGone);
  stdin.on('error', parentGone);
  stdin.resume();
  // Watching must not keep a node alive that has stopped by itself.
  stdin.unref?.();
}

import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';

/** Whether `command` is on the PATH. */
export function installed(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Waits until a TCP port accepts connections (Redis has no HTTP to poll). */
export async function waitTcp(port: number, timeoutMs: number): Promise<void> {
  const started = performance.now();
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    if (performance.now() - started > timeoutMs)
      throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

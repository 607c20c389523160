import { createServer } from 'node:net';
import t from 'tap';
import { ephemeralLow, freeLoopbackPorts } from '../../chaos/ports.js';

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

t.test('distinct ports below the ephemeral range, free once returned', async (t) => {
  const low = ephemeralLow();
  t.ok(low > 2048, `the ephemeral range starts at ${low}`);
  const ports = await freeLoopbackPorts(12);
  t.equal(new Set(ports).size, 12, 'distinct');
  t.ok(
    ports.every((port) => port < low && port >= 1024),
    'below the ephemeral range',
  );
  for (const port of ports) t.ok(await bindable(port), `${port} is free again`);
});

t.test('a port in use is skipped; a generator that finds too few gives up', async (t) => {
  const [taken] = await freeLoopbackPorts(1);
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(taken!, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const high = ephemeralLow() - 1;
  const low = Math.max(1024, high - 10_000);
  // The first draw hits the port in use, the next ones a port above it.
  let draws = 0;
  const at = (port: number) => (port - low + 0.5) / (high - low + 1);
  const next = () => (draws++ === 0 ? at(taken!) : at(taken! === high ? taken! - 1 : taken! + 1));
  const ports = await freeLoopbackPorts(1, next);
  t.not(ports[0], taken, 'the port in use was not returned');
  await t.rejects(
    freeLoopbackPorts(2, () => at(ports[0]!)),
    /no 2 free ports/,
    'one port drawn again and again',
  );
});

/**
 * Keys and values mean the same bytes whichever shard holds the connection. A lone UTF-16 surrogate
 * (JSON's "\ud800") used to be stored as itself on the key's owner and as U+FFFD when it came through
 * another shard (the hop carries UTF-8): reads disagreed by connection and /stats counted two keys.
 * Connections land on shards as the kernel spreads them (SO_REUSEPORT), so every case is sent over
 * many fresh connections, with keys owned by each shard.
 */
import { connect } from 'node:net';
import t from 'tap';
import { shardOfKey } from '../../src/hash/key-hash.js';
import { request, startDaemon } from '../fixtures/daemon-process.js';

const SHARDS = 2;
const CONNECTIONS = 24;

/** Keys `prefix-<n>` with a lone surrogate inside, the first two that each shard owns (by their UTF-8). */
function surrogateKeys(): string[] {
  const keys: string[] = [];
  for (let shard = 0; shard < SHARDS; shard++) {
    let found = 0;
    for (let n = 0; found < 2; n++) {
      const key = `sur\ud800-${n}`;
      if (shardOfKey(key, SHARDS) === shard) {
        keys.push(key);
        found++;
      }
    }
  }
  return keys;
}

interface Totals {
  totals: { keys: number };
}

async function rawRequest(port: number, head: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(head));
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer in 5 s')));
  });
}

t.test('a lone surrogate is refused with 400 on every path and every shard', async (t) => {
  const daemon = await startDaemon(t, { shards: SHARDS, args: ['--no-aof'] });
  const keys = surrogateKeys();
  const attempts: [string, () => Promise<{ status: number; text: string }>][] = [];
  for (const key of keys) {
    const escaped = JSON.stringify(key); // JSON.stringify writes a lone surrogate as \ud800
    t.match(escaped, /\\ud800/);
    attempts.push(
      [
        '/add key',
        () => request(`${daemon.url}/add`, { method: 'POST', body: `{"key":${escaped},"value":"v"}` }),
      ],
      ['/get key', () => request(`${daemon.url}/get`, { method: 'POST', body: `{"key":${escaped}}` })],
      [
        '/remove key',
        () => request(`${daemon.url}/remove`, { method: 'DELETE', body: `{"key":${escaped}}` }),
      ],
      [
        '/add value',
        () => request(`${daemon.url}/add`, { method: 'POST', body: `{"key":"plain","value":${escaped}}` }),
      ],
      [
        '/batch',
        () =>
          request(`${daemon.url}/batch`, {
            method: 'POST',
            body: `[{"op":"put","key":${escaped},"value":"v"}]`,
          }),
      ],
      ['/kv percent-encoded', () => request(`${daemon.url}/kv/sur%ED%A0%80`, { method: 'PUT', body: 'v' })],
    );
  }
  for (let connection = 0; connection < CONNECTIONS; connection++) {
    for (const [name, attempt] of attempts) {
      const answer = await attempt();
      if (answer.status !== 400 || !answer.text.includes('LALLY_ERR_INVALID_TEXT')) {
        t.fail(`${name}, connection ${connection}: ${answer.status} ${answer.text}`);
        return;
      }
    }
  }
  t.pass(`${attempts.length * CONNECTIONS} requests over fresh connections, all 400 LALLY_ERR_INVALID_TEXT`);
  // Raw bytes that are not UTF-8 in the URL (uWS would hand them over as U+FFFD).
  for (let connection = 0; connection < 8; connection++) {
    const answer = await rawRequest(
      daemon.port,
      Buffer.concat([
        Buffer.from('PUT /kv/bad'),
        Buffer.from([0xff]),
        Buffer.from('key HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\nv'),
      ]),
    );
    t.match(answer, /^HTTP\/1\.1 400 /, `raw invalid byte in the URL, connection ${connection}: 400`);
    t.match(answer, /LALLY_ERR_INVALID_TEXT/);
  }
  const stats = (await request(`${daemon.url}/stats`)).json<Totals>();
  t.equal(stats.totals.keys, 0, 'nothing was stored');
  await daemon.stop();
});

t.test('non-ASCII keys and values are the same on every path and every shard', async (t) => {
  const daemon = await startDaemon(t, { shards: SHARDS, args: ['--no-aof'] });
  const keys = ['ключ-1', 'clé-2', '🔑-3', '\ufffd-4', '键-5', 'ü-6'];
  for (const key of keys) {
    const put = await request(`${daemon.url}/kv/${encodeURIComponent(key)}`, {
      method: 'PUT',
      body: `\ufeff${key}`,
    });
    t.equal(put.status, 200, `PUT ${key}`);
  }
  for (let connection = 0; connection < CONNECTIONS; connection++) {
    for (const key of keys) {
      const rest = await fetch(`${daemon.url}/kv/${encodeURIComponent(key)}?raw`, {
        headers: { connection: 'close' },
      });
      const restBytes = Buffer.from(await rest.arrayBuffer()); // fetch's text() would drop the BOM
      const upstream = (
        await request(`${daemon.url}/get`, { method: 'POST', body: JSON.stringify({ key }) })
      ).json<{
        value: string;
      }>();
      if (!restBytes.equals(Buffer.from(`\ufeff${key}`)) || upstream.value !== `\ufeff${key}`) {
        t.fail(
          `${key}, connection ${connection}: REST ${restBytes.toString('hex')}, /get ${JSON.stringify(upstream.value)}`,
        );
        return;
      }
    }
  }
  t.pass('every read agrees, byte order mark included');
  const stats = (await request(`${daemon.url}/stats`)).json<Totals>();
  t.equal(stats.totals.keys, keys.length, 'one key each');
  await daemon.stop();
});

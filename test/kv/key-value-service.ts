import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { BytesResult, localQuorums } from '../../src/kv/key-value-service.js';
import { repoPath } from '../fixtures/paths.js';

const SRC = repoPath('src');

/** The relative module paths a folder's sources import (import and export ... from). */
function importsOf(folder: string): { file: string; target: string }[] {
  const found: { file: string; target: string }[] = [];
  for (const file of readdirSync(join(SRC, folder))) {
    if (!file.endsWith('.ts')) continue;
    const text = readFileSync(join(SRC, folder, file), 'utf8');
    for (const match of text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
      found.push({ file: `${folder}/${file}`, target: match[1]! });
    }
  }
  return found;
}

t.test('the HTTP layer depends on the key-value service, never on the shards', async (t) => {
  const http = importsOf('http');
  t.ok(
    http.some((i) => i.target === '../kv/key-value-service.js'),
    'http imports the service interface',
  );
  t.same(
    http.filter((i) => i.target.startsWith('../shard/')),
    [],
    'no module of src/http imports src/shard',
  );
});

t.test('the hop protocol and the service interface are neutral', async (t) => {
  for (const folder of ['hop', 'kv']) {
    t.same(
      importsOf(folder).filter((i) => /^\.\.\/(shard|http|daemon|cluster|rpc)\//.test(i.target)),
      [],
      `src/${folder} imports neither side`,
    );
  }
});

t.test('neither the shards nor the HTTP layer import the cluster or the RPC layer', async (t) => {
  for (const folder of ['shard', 'http']) {
    t.same(
      importsOf(folder).filter((i) => /^\.\.\/(cluster|rpc)\//.test(i.target)),
      [],
      `src/${folder}`,
    );
  }
});

t.test('the single node reaches its own answer only: achieved 1', async (t) => {
  const quorums = localQuorums(2, 3);
  t.same(quorums, { read: { required: 2, achieved: 1 }, write: { required: 3, achieved: 1 } });
  t.ok(Object.isFrozen(quorums.read) && Object.isFrozen(quorums.write), 'shared by every answer: frozen');
  t.same(localQuorums(), { read: { required: 1, achieved: 1 }, write: { required: 1, achieved: 1 } });
});

t.test(
  'a BytesResult decodes its value only when asked, and keeps it past the callback unless taken',
  async (t) => {
    const quorum = localQuorums().read;
    const shared = Buffer.from(new SharedArrayBuffer(16));
    shared.write('xé🔑', 3);
    const bytes = shared.subarray(3, 3 + Buffer.byteLength('xé🔑'));
    const read = new BytesResult(true, bytes, undefined, quorum);
    t.equal(read.value, 'xé🔑', 'decoded from a view of shared memory');
    t.equal(read.valueBytes, bytes, 'the bytes as given');
    read.settle();
    t.equal(read.value, 'xé🔑', 'read during the callback: kept');

    const untouched = new BytesResult(true, bytes, undefined, quorum);
    untouched.settle();
    shared.fill(0);
    t.equal(untouched.value, 'xé🔑', 'settled without a reader: decoded before the bytes changed');
    t.equal(untouched.valueBytes, undefined, 'no bytes past the callback');

    const taken = new BytesResult(true, Buffer.from('v'), undefined, quorum);
    t.equal(taken.valueBytes?.length, 1);
    taken.settle();
    t.throws(() => taken.value, /taken as bytes/, 'taken and settled: the text is gone, and says so');
    t.equal(
      new BytesResult(false, new Uint8Array(0), undefined, quorum).value,
      '',
      'no bytes: the empty text',
    );
  },
);

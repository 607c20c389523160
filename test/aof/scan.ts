/**
 * The record scan must read every record the writer can write: at every size up to the limits and
 * wherever a record falls against the read buffer's boundaries (a length prefix cut anywhere, a record
 * of exactly the buffer's size, several times it...). Files are built byte by byte (test/fixtures).
 */
import { open, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { decodeRecordAt, MAX_HEADER_BYTES } from '../../src/aof/format.js';
import { SCAN_CHUNK_BYTES, type ScanOptions, type ScanResult, scanAofFile } from '../../src/aof/scan.js';
import {
  type BuiltFile,
  buildFile,
  headerOf,
  recordOfSize,
  seededRandom,
  writeBuiltFile,
} from '../fixtures/aof-files.js';
import { tempDir } from '../fixtures/aof-helpers.js';

const HEADER = headerOf().length;
let fileNumber = 0;

async function scanBuilt(
  dir: string,
  file: BuiltFile,
  options: ScanOptions = {},
): Promise<{ result: ScanResult; seen: { offset: number; key: string; valueLength: number }[] }> {
  const path = join(dir, `f${fileNumber++}.aof`);
  await writeBuiltFile(path, file);
  const seen: { offset: number; key: string; valueLength: number }[] = [];
  const result = await scanAofFile(
    path,
    (buf, offset, _size, fileOffset) => {
      const record = decodeRecordAt(buf, offset);
      seen.push({ offset: fileOffset, key: record.key, valueLength: record.value.length });
    },
    options,
  );
  return { result, seen };
}

/** Every record back, in order, at its offset, with its whole value; no bad spot. */
function assertReadsAll(
  t: Test,
  file: BuiltFile,
  got: Awaited<ReturnType<typeof scanBuilt>>,
  what: string,
): boolean {
  const expected = file.records.map((r, i) => ({
    offset: file.offsets[i]!,
    key: r.key,
    valueLength: r.value.length,
  }));
  const ok =
    got.result.bad === undefined &&
    got.result.records === file.records.length &&
    got.result.validEnd === file.bytes.length &&
    JSON.stringify(got.seen) === JSON.stringify(expected);
  if (!ok) {
    t.fail(`${what}: not read back whole`, {
      bad: got.result.bad,
      records: got.result.records,
      expected: file.records.length,
      validEnd: got.result.validEnd,
      fileBytes: file.bytes.length,
    });
  }
  return ok;
}

t.test('real buffer size: a record whose length prefix straddles the chunk end by 0..8 bytes', async (t) => {
  const dir = await tempDir(t);
  const C = SCAN_CHUNK_BYTES;
  let failures = 0;
  for (let d = 0; d <= 8; d++) {
    for (const big of [C - 1, C, C + 1]) {
      // The filler ends exactly `d` bytes before the first chunk's end: the next prefix starts there.
      const file = buildFile([recordOfSize(0, C - HEADER - d), recordOfSize(1, big), recordOfSize(2, 60)]);
      t.equal(file.offsets[1], C - d);
      if (!assertReadsAll(t, file, await scanBuilt(dir, file), `d=${d} big=${big}`)) failures++;
    }
  }
  t.equal(failures, 0, 'every placement reads back');
});

t.test('real buffer size: records of 2x and 3x the chunk, and the 1 MiB values of the issue', async (t) => {
  const dir = await tempDir(t);
  const C = SCAN_CHUNK_BYTES;
  const cases: [string, number[]][] = [
    ['2C-1, 2C, 2C+1', [100, 2 * C - 1, 2 * C, 2 * C + 1, 40]],
    ['3C+7 behind a prefix cut at 3 bytes', [C - HEADER - 3, 3 * C + 7, 50]],
    // Two PUTs of a 1 MiB value (key "k0"/"k1": 1 MiB + 31 bytes on disk) and a small one.
    ['two 1 MiB values and a small one', [C + 31, C + 31, 45]],
  ];
  for (const [what, sizes] of cases) {
    const file = buildFile(sizes.map((size, i) => recordOfSize(i, size)));
    assertReadsAll(t, file, await scanBuilt(dir, file), what);
  }
});

t.test('small buffer: every prefix cut and every size around 1x, 2x and 3x the buffer', async (t) => {
  const dir = await tempDir(t);
  let failures = 0;
  let files = 0;
  for (const [C, maxCut] of [
    [128, 40],
    [200, 10],
  ] as const) {
    for (let d = 0; d <= maxCut; d++) {
      for (const big of [29 + 2, C - 1, C, C + 1, 2 * C - 1, 2 * C, 2 * C + 1, 3 * C + 7]) {
        for (const after of [31, C - 5, C + 9]) {
          const file = buildFile([
            recordOfSize(0, C - HEADER - d),
            recordOfSize(1, big),
            recordOfSize(2, after),
            recordOfSize(3, big),
            recordOfSize(4, 40),
          ]);
          files++;
          const got = await scanBuilt(dir, file, { chunkBytes: C });
          if (!assertReadsAll(t, file, got, `C=${C} d=${d} big=${big} after=${after}`)) failures++;
        }
      }
    }
  }
  t.equal(failures, 0, `all ${files} files read back`);
});

t.test('a header larger than a small buffer is read whole', async (t) => {
  const dir = await tempDir(t);
  t.ok(MAX_HEADER_BYTES > 64);
  const file = buildFile([recordOfSize(0, 100), recordOfSize(1, 33)]);
  assertReadsAll(t, file, await scanBuilt(dir, file, { chunkBytes: 16 }), 'chunk of 16 bytes');
  assertReadsAll(t, file, await scanBuilt(dir, file, { chunkBytes: 1 }), 'chunk of 1 byte');
});

/** Random sizes: mostly small, many near multiples of the buffer, some several times it. */
function randomSizes(random: () => number, count: number, C: number): number[] {
  const sizes: number[] = [];
  for (let i = 0; i < count; i++) {
    const pick = random();
    const minimum = 29 + `k${i}`.length;
    let size: number;
    if (pick < 0.4) size = minimum + Math.floor(random() * 200);
    else if (pick < 0.8)
      size = Math.max(minimum, (1 + Math.floor(random() * 3)) * C + Math.floor(random() * 21) - 10);
    else size = minimum + Math.floor(random() * 4 * C);
    sizes.push(size);
  }
  return sizes;
}

async function propertyRound(
  t: Test,
  dir: string,
  random: () => number,
  C: number,
  maxCount: number,
  options: ScanOptions,
  label: string,
): Promise<boolean> {
  const count = 1 + Math.floor(random() * maxCount);
  const sizes = randomSizes(random, count, C);
  const file = buildFile(sizes.map((size, i) => recordOfSize(i, size)));
  if (!assertReadsAll(t, file, await scanBuilt(dir, file, options), `${label} sizes=${sizes.join(',')}`))
    return false;
  // The same file cut inside its last record: a torn tail, everything before it read.
  const last = file.offsets.at(-1)!;
  const cut = last + 1 + Math.floor(random() * (file.bytes.length - last - 1));
  const path = join(dir, `cut${fileNumber++}.aof`);
  await writeBuiltFile(path, file);
  await truncate(path, cut);
  let records = 0;
  const result = await scanAofFile(path, () => void records++, options);
  const ok =
    result.bad?.kind === 'tail' &&
    result.bad.offset === last &&
    result.validEnd === last &&
    records === count - 1;
  if (!ok) t.fail(`${label}: torn at ${cut} of ${file.bytes.length}`, { bad: result.bad, records, count });
  return ok;
}

t.test(
  'property: random record sizes and counts read back, and a cut last record is a torn tail',
  async (t) => {
    const dir = await tempDir(t);
    const seed = Number(process.env.LALLY_SCAN_SEED ?? 20261201);
    const random = seededRandom(seed);
    let failures = 0;
    const rounds = 200;
    for (let round = 0; round < rounds; round++) {
      const C = 29 + Math.floor(random() * 2000);
      const label = `seed ${seed} round ${round} C=${C}`;
      if (!(await propertyRound(t, dir, random, C, 40, { chunkBytes: C }, label))) failures++;
    }
    t.equal(failures, 0, `${rounds} random files (seed ${seed}; set LALLY_SCAN_SEED to vary it)`);
  },
);

t.test('property at the real buffer size: a few files of records up to 4 MiB', async (t) => {
  const dir = await tempDir(t);
  const seed = Number(process.env.LALLY_SCAN_SEED ?? 7);
  const random = seededRandom(seed);
  let failures = 0;
  for (let round = 0; round < 4; round++) {
    const label = `seed ${seed} round ${round} default chunk`;
    if (!(await propertyRound(t, dir, random, SCAN_CHUNK_BYTES, 5, {}, label))) failures++;
  }
  t.equal(failures, 0);
});

t.test('damage before a record larger than the buffer is mid-file corruption pointing at it', async (t) => {
  const dir = await tempDir(t);
  for (const C of [256, SCAN_CHUNK_BYTES]) {
    const file = buildFile([
      recordOfSize(0, 50),
      recordOfSize(1, 60),
      recordOfSize(2, 2 * C + 3),
      recordOfSize(3, 40),
    ]);
    // A flipped byte in the second record's value: its checksum fails.
    const flip = file.offsets[1]! + 55;
    file.bytes[flip] = file.bytes[flip]! ^ 0x01;
    const got = await scanBuilt(dir, file, { chunkBytes: C });
    t.equal(got.result.records, 1, `C=${C}: the record before the damage`);
    t.same(
      got.result.bad && { ...got.result.bad },
      { offset: file.offsets[1], reason: 'checksum mismatch', kind: 'mid', nextValidOffset: file.offsets[2] },
      `C=${C}: the large record after it is found`,
    );
  }
});

t.test('a torn large record at the end is a tail, not mid-file corruption', async (t) => {
  const dir = await tempDir(t);
  const C = SCAN_CHUNK_BYTES;
  const file = buildFile([recordOfSize(0, 70), recordOfSize(1, C + 31)]);
  const path = join(dir, 'torn.aof');
  await writeBuiltFile(path, file);
  const fh = await open(path, 'r+');
  await fh.truncate(file.offsets[1]! + Math.floor(C / 2));
  await fh.close();
  const result = await scanAofFile(path);
  t.equal(result.records, 1);
  t.equal(result.bad?.kind, 'tail');
  t.equal(result.validEnd, file.offsets[1]);
  t.match(result.bad?.reason, /truncated record \(needs \d+ body bytes/);
});

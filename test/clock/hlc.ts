import t from 'tap';
import {
  compareVersions,
  formatVersion,
  HybridLogicalClock,
  isNewer,
  parseVersion,
  type Version,
  versionToRfc3339,
  ZERO_VERSION,
} from '../../src/clock/hlc.js';

const MAX_U32 = 0xffffffff;

function v(wall: number, counter: number, node: number): Version {
  return { wall, counter, node };
}

/** A clock whose time the test sets by hand. */
function manualClock(start: number): { now: () => number; set: (ms: number) => void } {
  let time = start;
  return {
    now: () => time,
    set: (ms) => {
      time = ms;
    },
  };
}

t.test('ZERO_VERSION is frozen and oldest', async (t) => {
  t.same(ZERO_VERSION, { wall: 0, counter: 0, node: 0 });
  t.ok(Object.isFrozen(ZERO_VERSION));
  t.equal(compareVersions(ZERO_VERSION, v(0, 0, 1)), -1);
  t.equal(compareVersions(ZERO_VERSION, v(0, 0, 0)), 0);
});

t.test('compareVersions orders by wall, then counter, then node', async (t) => {
  t.equal(compareVersions(v(1, 0, 0), v(2, 0, 0)), -1, 'wall older');
  t.equal(compareVersions(v(2, 0, 0), v(1, 0, 0)), 1, 'wall newer');
  // wall dominates counter and node
  t.equal(compareVersions(v(1, MAX_U32, MAX_U32), v(2, 0, 0)), -1);
  t.equal(compareVersions(v(2, 0, 0), v(1, MAX_U32, MAX_U32)), 1);
  // counter dominates node
  t.equal(compareVersions(v(5, 1, MAX_U32), v(5, 2, 0)), -1);
  t.equal(compareVersions(v(5, 2, 0), v(5, 1, MAX_U32)), 1);
  // node is the last tiebreak
  t.equal(compareVersions(v(5, 2, 3), v(5, 2, 4)), -1);
  t.equal(compareVersions(v(5, 2, 4), v(5, 2, 3)), 1);
  t.equal(compareVersions(v(5, 2, 4), v(5, 2, 4)), 0);
  t.equal(compareVersions(v(1_735_553_700_123, 7, 9), { wall: 1_735_553_700_123, counter: 7, node: 9 }), 0);

  t.equal(isNewer(v(5, 2, 4), v(5, 2, 3)), true);
  t.equal(isNewer(v(5, 2, 3), v(5, 2, 4)), false);
  t.equal(isNewer(v(5, 2, 3), v(5, 2, 3)), false, 'equal is not newer');

  // Sorting a shuffled list gives the documented order.
  const ordered = [v(1, 0, 0), v(1, 0, 1), v(1, 1, 0), v(1, 1, 2), v(2, 0, 0), v(2, 5, 0), v(3, 0, 0)];
  const shuffled = [
    ordered[4]!,
    ordered[0]!,
    ordered[6]!,
    ordered[2]!,
    ordered[5]!,
    ordered[1]!,
    ordered[3]!,
  ];
  t.same(shuffled.sort(compareVersions), ordered);
});

t.test('tick stamps with the wall clock and the node id', async (t) => {
  const clock = manualClock(1_000);
  const hlc = new HybridLogicalClock(7, clock.now);
  t.equal(hlc.node, 7);
  t.same(hlc.tick(), { wall: 1_000, counter: 0, node: 7 });
  clock.set(1_005);
  t.same(hlc.tick(), { wall: 1_005, counter: 0, node: 7 }, 'a new millisecond resets the counter');
});

t.test('node id is kept as unsigned 32-bit', async (t) => {
  t.equal(new HybridLogicalClock(-1, () => 1).node, MAX_U32);
  t.equal(new HybridLogicalClock(2 ** 32 + 5, () => 1).node, 5);
  t.equal(new HybridLogicalClock(MAX_U32, () => 1).tick().node, MAX_U32);
});

t.test('default clock is Date.now', async (t) => {
  const before = Date.now();
  const stamp = new HybridLogicalClock(1).tick();
  const after = Date.now();
  t.ok(stamp.wall >= before && stamp.wall <= after, 'wall within the call');
  t.equal(stamp.counter, 0);
});

t.test('counter increments within one millisecond', async (t) => {
  const hlc = new HybridLogicalClock(1, () => 500);
  for (let i = 0; i < 10; i++) t.same(hlc.tick(), { wall: 500, counter: i, node: 1 });
});

t.test('tick is strictly monotonic when the clock stalls or goes backwards', async (t) => {
  const clock = manualClock(10_000);
  const hlc = new HybridLogicalClock(3, clock.now);
  const times = [10_000, 10_000, 9_000, 9_999, 10_000, 10_001, 10_001, 5, 0, 10_002, 10_002, 20_000, 19_999];
  let previous: Version | undefined;
  const stamps: Version[] = [];
  for (const time of times) {
    clock.set(time);
    const stamp = hlc.tick();
    stamps.push(stamp);
    if (previous) t.equal(compareVersions(stamp, previous), 1, `tick at ${time} is later than the last`);
    t.ok(stamp.wall >= time || stamp.wall >= previous!.wall, 'wall never goes backwards');
    previous = stamp;
  }
  t.same(
    stamps.map((s) => [s.wall, s.counter]),
    [
      [10_000, 0],
      [10_000, 1],
      [10_000, 2], // backwards: keep the wall, bump the counter
      [10_000, 3],
      [10_000, 4],
      [10_001, 0],
      [10_001, 1],
      [10_001, 2],
      [10_001, 3],
      [10_002, 0],
      [10_002, 1],
      [20_000, 0],
      [20_000, 1],
    ],
  );
});

t.test('counter exhaustion borrows the next millisecond', async (t) => {
  const clock = manualClock(1_000);
  const hlc = new HybridLogicalClock(2, clock.now);
  // Reach the last counter value without 4 billion ticks: observe a stamp there.
  hlc.observe(v(1_000, MAX_U32 - 1, 9));
  t.same(hlc.tick(), { wall: 1_000, counter: MAX_U32, node: 2 }, 'last counter value is used');
  t.same(hlc.tick(), { wall: 1_001, counter: 0, node: 2 }, 'then the next millisecond, not a wrap');
  t.same(hlc.tick(), { wall: 1_001, counter: 1, node: 2 }, 'clock still at 1000: keep counting');
  clock.set(1_001);
  t.same(hlc.tick(), { wall: 1_001, counter: 2, node: 2 }, 'physical catching up is not newer');
  clock.set(1_002);
  t.same(hlc.tick(), { wall: 1_002, counter: 0, node: 2 });
});

t.test('observe of a future version makes the next tick larger', async (t) => {
  const hlc = new HybridLogicalClock(1, () => 1_000);
  t.same(hlc.tick(), { wall: 1_000, counter: 0, node: 1 });
  const remote = v(5_000, 17, 99);
  hlc.observe(remote);
  const next = hlc.tick();
  t.same(next, { wall: 5_000, counter: 18, node: 1 });
  t.equal(compareVersions(next, remote), 1, 'later than the observed stamp despite a lower node id');

  // Same wall, higher counter.
  hlc.observe(v(5_000, 100, 0));
  t.same(hlc.tick(), { wall: 5_000, counter: 101, node: 1 });
});

t.test('observe of a past or equal version changes nothing', async (t) => {
  const hlc = new HybridLogicalClock(4, () => 2_000);
  hlc.tick(); // 2000.0
  hlc.tick(); // 2000.1
  hlc.observe(v(1_999, 999, 9));
  hlc.observe(v(2_000, 0, 9));
  hlc.observe(v(2_000, 1, 9)); // equal wall and counter: no change
  t.same(hlc.tick(), { wall: 2_000, counter: 2, node: 4 });
});

t.test('observe followed by a newer physical clock uses the physical clock', async (t) => {
  const clock = manualClock(1_000);
  const hlc = new HybridLogicalClock(1, clock.now);
  hlc.observe(v(1_500, 3, 2));
  clock.set(1_600);
  t.same(hlc.tick(), { wall: 1_600, counter: 0, node: 1 });
});

t.test('node id breaks ties between clocks', async (t) => {
  const a = new HybridLogicalClock(1, () => 42);
  const b = new HybridLogicalClock(2, () => 42);
  const stampA = a.tick();
  const stampB = b.tick();
  t.same([stampA.wall, stampA.counter], [stampB.wall, stampB.counter]);
  t.equal(compareVersions(stampA, stampB), -1);
  t.equal(compareVersions(stampB, stampA), 1);
  t.ok(isNewer(stampB, stampA));
});

t.test('versionToRfc3339 is UTC with milliseconds', async (t) => {
  t.equal(versionToRfc3339(v(0, 5, 5)), '1970-01-01T00:00:00.000Z');
  t.equal(versionToRfc3339(v(1_735_553_700_123, 0, 0)), '2024-12-30T10:15:00.123Z');
  t.equal(versionToRfc3339(v(951_782_400_007, 1, 1)), '2000-02-29T00:00:00.007Z');
});

t.test('formatVersion and parseVersion round trip', async (t) => {
  const cases = [
    v(0, 0, 0),
    v(1_735_553_700_123, 7, 9),
    v(Date.now(), MAX_U32, MAX_U32),
    v(Number.MAX_SAFE_INTEGER, 1, 2),
  ];
  for (const version of cases) {
    const text = formatVersion(version);
    t.equal(text, `${version.wall}.${version.counter}.${version.node}`);
    t.same(parseVersion(text), version, `round trip ${text}`);
  }
  t.equal(formatVersion(v(1_735_553_700_123, 7, 9)), '1735553700123.7.9');
  t.same(parseVersion('1.2.3'), { wall: 1, counter: 2, node: 3 });
});

t.test('parseVersion rejects garbage', async (t) => {
  const bad = [
    '',
    '1',
    '1.2',
    '1.2.3.4',
    'a.b.c',
    '1.2.x',
    '-1.2.3',
    '1.-2.3',
    '1.2.-3',
    '1.5.3 ',
    ' 1.2.3',
    '1.2.3\n',
    '1e3.0.0',
    '1.5.0.0',
    '0x10.1.1',
    '1..3',
    '.1.2',
    '12345678901234567.0.0', // 17 digits
    '9007199254740992.0.0', // 2^53: not a safe integer
    '1.4294967296.0', // counter over u32
    '1.0.4294967296', // node over u32
    '1.12345678901.0', // 11 digits
  ];
  for (const text of bad) t.equal(parseVersion(text), undefined, JSON.stringify(text));
  t.same(parseVersion('1.4294967295.4294967295'), { wall: 1, counter: MAX_U32, node: MAX_U32 });
  t.same(parseVersion('9007199254740991.0.0'), { wall: Number.MAX_SAFE_INTEGER, counter: 0, node: 0 });
});

t.test('versionToRfc3339 matches Date#toISOString for every kind of wall clock value', async (t) => {
  const walls = [0, 1, 999, 1000, 1001, -1, -1500, 253402300799999, 253402300800000, 8_640_000_000_000_000];
  // Runs of consecutive milliseconds (the cached second), and jumps backwards and across seconds.
  for (let wall = 1_795_596_628_990; wall < 1_795_596_629_020; wall++) walls.push(wall);
  walls.push(1_795_596_628_000, 1_795_596_627_999, 1_795_596_628_001);
  for (const wall of walls) {
    t.equal(versionToRfc3339({ wall, counter: 0, node: 0 }), new Date(wall).toISOString(), `wall ${wall}`);
  }
});

import t from 'tap';
import { AcceptGuard, canOpen, openFilesLimit } from '../../src/http/accept-guard.js';
import { recordingLogger } from '../fixtures/aof-helpers.js';

t.test('pauses when the reserve cannot be opened, resumes at twice the reserve', async (t) => {
  const { logger, lines } = recordingLogger();
  let free = 100;
  const events: string[] = [];
  let resumeWorks = true;
  const guard = new AcceptGuard({
    logger,
    reserve: 10,
    probe: (count) => free >= count,
    pause: () => void events.push('pause'),
    resume: () => {
      events.push('resume');
      return resumeWorks;
    },
  });
  guard.check();
  t.same(events, [], 'plenty free: nothing happens');
  free = 5;
  guard.check();
  guard.check();
  t.same(events, ['pause'], 'paused once');
  t.equal(guard.paused, true);
  free = 15;
  guard.check();
  t.same(events, ['pause'], 'not resumed at 1.5x the reserve (hysteresis)');
  free = 20;
  resumeWorks = false;
  guard.check();
  t.equal(guard.paused, true, 'a failed listen stays paused and is tried again');
  resumeWorks = true;
  guard.check();
  t.same(events, ['pause', 'resume', 'resume']);
  t.equal(guard.paused, false);
  t.equal(guard.pauses, 1);
  t.same(
    lines.map((l) => l.msg),
    [
      'out of file descriptors: not accepting new connections until some are free',
      'file descriptors are free again: accepting connections',
    ],
  );
});

t.test('canOpen opens and closes real descriptors; the limit is read from /proc', async (t) => {
  t.equal(canOpen(8), true);
  const limit = openFilesLimit();
  t.ok(limit === undefined || limit > 8, `limit ${limit}`);
});

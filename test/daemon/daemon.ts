import t from 'tap';
import { drainBudgetMs } from '../../src/daemon/daemon.js';

t.test(
  'requests get 80% of the shutdown timeout, and the close always keeps a second (or a fifth)',
  async (t) => {
    t.equal(drainBudgetMs(10_000), 8000, 'the default timeout: 80%');
    t.equal(drainBudgetMs(60_000), 48_000);
    t.equal(drainBudgetMs(3000), 2000, 'a second left for the close');
    t.equal(drainBudgetMs(1500), 500, 'not 1200: the 300 ms left for the close was too little under load');
    t.equal(drainBudgetMs(100), 100, 'never below 100 ms');
  },
);

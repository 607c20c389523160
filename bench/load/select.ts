import { AutocannonLoadGenerator } from './autocannon.js';
import type { LoadGenerator, LoadResult, LoadRun } from './types.js';
import { WrkLoadGenerator, wrkVersion } from './wrk.js';

export type LoadGeneratorChoice = 'auto' | 'wrk' | 'autocannon';

/**
 * The load generators of a run: wrk for throughput when installed (autocannon otherwise), and
 * autocannon for fixed-rate runs, because wrk 4 has no constant-rate mode (wrk2 is not packaged).
 */
export class LoadGenerators {
  private constructor(
    readonly throughput: LoadGenerator,
    readonly fixedRate: LoadGenerator,
  ) {}

  static async choose(
    choice: LoadGeneratorChoice,
    scratchDir: string,
    wrkThreads: number,
  ): Promise<LoadGenerators> {
    const autocannon = new AutocannonLoadGenerator();
    if (choice === 'autocannon') return new LoadGenerators(autocannon, autocannon);
    const version = await wrkVersion();
    if (!version) {
      if (choice === 'wrk')
        throw new Error('--load-generator wrk: wrk is not installed (apt-get install wrk)');
      return new LoadGenerators(autocannon, autocannon);
    }
    return new LoadGenerators(new WrkLoadGenerator(version, scratchDir, wrkThreads), autocannon);
  }

  run(load: LoadRun): Promise<LoadResult> {
    return load.rate ? this.fixedRate.run(load) : this.throughput.run(load);
  }
}

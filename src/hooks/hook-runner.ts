import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import { type Version, versionToRfc3339 } from '../clock/hlc.js';
import { ErrorCodes, LallyError } from '../errors.js';
import type { CommittedWrite, WriteOrigin } from '../shard/committed-write.js';

/** A write as hooks see it. `name` and the field names follow upstream's hook operations. */
export interface HookOperation {
  readonly name: 'ADD' | 'REMOVE';
  readonly key: string;
  /** The new value for ADD; undefined for REMOVE. */
  readonly value: string | undefined;
  /** RFC 3339 rendering of the version's wall clock part. */
  readonly timestamp: string;
  readonly version: Version;
  /** The shard (worker thread) that owns the key and runs the hook. */
  readonly shard: number;
  /** 'client' for a write made on this node, 'peer' for one another node made and replicated here. */
  readonly origin: WriteOrigin;
}

export interface HookContext {
  readonly shard: number;
  readonly shards: number;
  readonly logger: Logger;
}

/** What a hook module default-exports. See docs/hooks.md. */
export interface LallyHook {
  readonly name: string;
  onOperation(op: HookOperation): void | Promise<void>;
  init?(ctx: HookContext): void | Promise<void>;
  close?(): void | Promise<void>;
}

function isHook(value: unknown): value is LallyHook {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return typeof candidate.name === 'string' && typeof candidate.onOperation === 'function';
}

export async function loadHookModule(path: string, baseDir: string): Promise<LallyHook> {
  const file = isAbsolute(path) ? path : resolve(baseDir, path);
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (cause) {
    throw new LallyError(ErrorCodes.HOOK_LOAD, `hook ${file} could not be loaded: ${String(cause)}`, {
      cause,
    });
  }
  if (!isHook(module.default)) {
    throw new LallyError(
      ErrorCodes.HOOK_LOAD,
      `hook ${file} must default-export an object with a string "name" and a function "onOperation"`,
    );
  }
  return module.default;
}

/**
 * Runs every registered hook for every committed write of one shard, in registration order: it
 * subscribes `onCommitted` to the engine's committed-write event, so a hook only ever sees a write the
 * AOF took and the store applied. A hook that throws (or whose promise rejects) is logged with its
 * name; the write goes on. Hooks run before the write is acknowledged, but their promises are not
 * awaited: a slow hook must not hold writes.
 */
export class HookRunner {
  readonly #hooks: readonly LallyHook[];
  readonly #logger: Logger;
  failures = 0;

  constructor(hooks: readonly LallyHook[], logger: Logger) {
    this.#hooks = hooks;
    this.#logger = logger;
  }

  static async load(paths: readonly string[], baseDir: string, ctx: HookContext): Promise<HookRunner> {
    const hooks: LallyHook[] = [];
    for (const path of paths) {
      const hook = await loadHookModule(path, baseDir);
      try {
        await hook.init?.(ctx);
      } catch (cause) {
        throw new LallyError(
          ErrorCodes.HOOK_LOAD,
          `hook ${hook.name} (${path}) failed in init(): ${String(cause)}`,
          {
            cause,
          },
        );
      }
      hooks.push(hook);
    }
    return new HookRunner(hooks, ctx.logger);
  }

  get active(): boolean {
    return this.#hooks.length > 0;
  }

  get names(): string[] {
    return this.#hooks.map((hook) => hook.name);
  }

  /** The engine's committed-write listener (bound, so it can be passed as is). */
  readonly onCommitted = (write: CommittedWrite): void => {
    this.run({
      name: write.op,
      key: write.key,
      value: write.op === 'ADD' ? write.value : undefined,
      timestamp: versionToRfc3339(write.version),
      version: write.version,
      shard: write.shard,
      origin: write.origin,
    });
  };

  run(op: HookOperation): void {
    for (const hook of this.#hooks) {
      try {
        const outcome = hook.onOperation(op);
        if (outcome !== undefined && typeof (outcome as Promise<void>).then === 'function') {
          (outcome as Promise<void>).then(undefined, (error: unknown) => this.#failed(hook, op, error));
        }
      } catch (error) {
        this.#failed(hook, op, error);
      }
    }
  }

  #failed(hook: LallyHook, op: HookOperation, error: unknown): void {
    this.failures++;
    this.#logger.error(
      { hook: hook.name, op: op.name, key: op.key, err: error },
      'hook failed; the write goes on',
    );
  }

  async close(): Promise<void> {
    for (const hook of this.#hooks) {
      try {
        await hook.close?.();
      } catch (error) {
        this.#logger.error({ hook: hook.name, err: error }, 'hook failed to close');
      }
    }
  }
}

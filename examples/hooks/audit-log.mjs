// An example Lally hook: appends every write to an audit file, one JSON line per operation.
//
//   lally --hooks examples/hooks/audit-log.mjs
//   LALLY_AUDIT_FILE=/var/log/lally-audit.jsonl lally --hooks examples/hooks/audit-log.mjs
//
// Each shard (worker thread) loads its own instance of the module, so `init` runs once per shard and
// the file is opened by every shard; lines are short and appended with O_APPEND, so they do not mix.
import { createWriteStream } from 'node:fs';

let stream;
let log;

export default {
  name: 'audit-log',

  init(ctx) {
    const file = process.env.LALLY_AUDIT_FILE ?? 'lally-audit.jsonl';
    stream = createWriteStream(file, { flags: 'a' });
    log = ctx.logger;
    log.info({ file, shard: ctx.shard }, 'audit-log hook writing');
  },

  // Called for every write, before it is applied and acknowledged. Do not block: a returned promise is
  // not awaited, and an error is logged without failing the write.
  onOperation(op) {
    stream.write(
      `${JSON.stringify({ at: op.timestamp, op: op.name, key: op.key, value: op.value ?? null, shard: op.shard })}\n`,
    );
  },

  close() {
    return new Promise((resolve) => stream.end(resolve));
  },
};

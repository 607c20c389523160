/**
 * THE ceiling: a bare uWebSockets.js app with as many worker threads as Lally has shards, all on one
 * port (SO_REUSEPORT), answering every request with a pre-built JSON body of the size Lally answers.
 * It parses nothing and stores nothing, so no server on this machine can answer HTTP faster; Lally's
 * figures are reported as ratios to it.
 *
 *   node dist/bench/peers/uws-ceiling.js --port P --threads N --get-bytes B --put-bytes B --batch-bytes B
 *
 * It loads the native uWS build the way the daemon does and refuses the package's slow JS fallback.
 */
import { isMainThread, Worker, workerData } from 'node:worker_threads';
import { loadNativeUws } from '../../src/http/uws-native.js';
import { numericFlags, paddedJson } from './server-args.js';

interface CeilingConfig {
  port: number;
  getBytes: number;
  putBytes: number;
  batchBytes: number;
}

function serve(config: CeilingConfig): void {
  const uws = loadNativeUws();
  const getBody = paddedJson(config.getBytes);
  const putBody = paddedJson(config.putBytes);
  const batchBody = paddedJson(config.batchBytes);
  const app = uws.App();
  app.get('/greet', (res) => {
    res.end('ok');
  });
  app.get('/*', (res) => {
    res.cork(() => {
      res.writeHeader('content-type', 'application/json').end(getBody);
    });
  });
  // Writes: read the whole body (as any server must), then answer.
  app.any('/*', (res, req) => {
    const body = req.getUrl() === '/batch' ? batchBody : putBody;
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    res.onData((_chunk, isLast) => {
      if (isLast && !aborted) {
        res.cork(() => {
          res.writeHeader('content-type', 'application/json').end(body);
        });
      }
    });
  });
  app.listen('127.0.0.1', config.port, (socket) => {
    if (!socket) {
      process.stderr.write(`uws-ceiling: cannot listen on 127.0.0.1:${config.port}\n`);
      process.exit(1);
    }
  });
}

if (isMainThread) {
  const flags = numericFlags(process.argv, ['port', 'threads', 'get-bytes', 'put-bytes', 'batch-bytes']);
  loadNativeUws(); // fail here, loudly, before any thread starts, if only the JS shim is available
  const config: CeilingConfig = {
    port: flags.port,
    getBytes: flags['get-bytes'],
    putBytes: flags['put-bytes'],
    batchBytes: flags['batch-bytes'],
  };
  for (let i = 0; i < Math.max(1, flags.threads); i++) {
    const worker = new Worker(new URL(import.meta.url), { workerData: config });
    worker.on('error', (error) => {
      process.stderr.write(`uws-ceiling: thread ${i} failed: ${error.stack ?? error.message}\n`);
      process.exit(1);
    });
  }
} else {
  serve(workerData as CeilingConfig);
}

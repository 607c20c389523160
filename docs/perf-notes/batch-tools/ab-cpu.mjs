// node h2.mjs <root> <secs> <rounds> <target: lally|ceiling>
import { mkdtempSync, writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
const [root, secsS, roundsS, target] = process.argv.slice(2);
const secs = Number(secsS), rounds = Number(roundsS);
const { LallyNode } = await import(`${root}/dist/bench/proc/lally-node.js`);
const { LocalServer } = await import(`${root}/dist/bench/peers/local-server.js`);
const { preload, sampleBodySizes } = await import(`${root}/dist/bench/scenarios/lally-api.js`);
const { buildRequestPlan, range } = await import(`${root}/dist/bench/workload/requests.js`);
const { wrkScript, parseWrkOutput } = await import(`${root}/dist/bench/load/wrk-script.js`);
const workload = { kind: 'batch', distribution: 'uniform', valueBytes: 16, keyCount: 100000, batchSize: 100, writeShare: Number(process.env.WS ?? 0.1), seed: 1 };
const plan = buildRequestPlan(workload);
const hz = 100;
const cpu = (pid) => { try { const t = readFileSync(`/proc/${pid}/stat`, 'utf8'); const f = t.slice(t.lastIndexOf(')') + 2).split(' '); return (Number(f[11]) + Number(f[12])) / hz; } catch { return NaN; } };
// THREADS=1: also each thread's CPU (/proc/<pid>/task/*/stat), in cores over the run's middle.
const perThread = process.env.THREADS === '1';
const threads = (pid) => {
  const out = {};
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const t = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const comm = t.slice(t.indexOf('(') + 1, t.lastIndexOf(')'));
        const f = t.slice(t.lastIndexOf(')') + 2).split(' ');
        // schedstat: ns on a CPU, ns runnable but waiting for one (the run queue), timeslices.
        const [run, queued] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
        out[tid] = { comm, cpu: (Number(f[11]) + Number(f[12])) / hz, run: run / 1e9, queued: queued / 1e9 };
      } catch {}
    }
  } catch {}
  return out;
};
const lally = await LallyNode.start({ cliPath: `${root}/dist/src/cli/main.js`, shards: 2, aof: 'everysec' });
await preload(lally.url, range(workload.keyCount), workload.valueBytes);
let server = lally;
if (target === 'ceiling') {
  const sizes = await sampleBodySizes(lally.url, 16, plan);
  await lally.stop();
  server = await LocalServer.start('uws-ceiling', ['--threads', '2', '--get-bytes', String(sizes.getBytes), '--put-bytes', String(sizes.putBytes), '--batch-bytes', String(sizes.batchBytes)]);
}
const dir = mkdtempSync(join(tmpdir(), 'h2-'));
const script = join(dir, 'plan.lua');
writeFileSync(script, wrkScript(plan, undefined, {}));
const runWrk = (d) => new Promise((resolve) => {
  const child = spawn('wrk', ['-t', '1', '-c', '64', '-d', `${d}s`, '--timeout', '10s', '-s', script, server.url], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = ''; child.stdout.on('data', (b) => (out += b));
  const s = [];
  const timer = setInterval(() => s.push({ t: performance.now(), wrk: cpu(child.pid), srv: cpu(server.pid), th: perThread ? threads(server.pid) : undefined, wth: perThread ? threads(child.pid) : undefined }), 250);
  child.on('close', () => { clearInterval(timer); resolve({ out, s }); });
});
await runWrk(1);
for (let r = 0; r < rounds; r++) {
  const { out, s } = await runWrk(secs);
  const w = parseWrkOutput(out);
  const rate = w.requests / (w.durationUs / 1e6) * plan.opsPerRequest;
  const a = s[2], b = s[s.length - 2];
  const dt = (b.t - a.t) / 1000;
  if (perThread) {
    const busy = Object.entries(b.th).map(([tid, x]) => ({ tid, comm: x.comm, cores: +((x.cpu - (a.th[tid]?.cpu ?? 0)) / dt).toFixed(2), oncpu: +((x.run - (a.th[tid]?.run ?? 0)) / dt).toFixed(2), runqueue: +((x.queued - (a.th[tid]?.queued ?? 0)) / dt).toFixed(2) })).filter((x) => x.cores >= 0.02).sort((x, y) => y.cores - x.cores);
    console.log(JSON.stringify({ threads: busy, wrk: Object.entries(b.wth).map(([tid, x]) => ({ oncpu: +((x.run - (a.wth[tid]?.run ?? 0)) / dt).toFixed(2), runqueue: +((x.queued - (a.wth[tid]?.queued ?? 0)) / dt).toFixed(2) })).filter((x) => x.oncpu >= 0.02) }));
  }
  console.log(JSON.stringify({ root: root.split('/').pop(), target, ops_s: Math.round(rate), srv_us_op: +((b.srv - a.srv) / dt / rate * 1e6).toFixed(3), wrk_us_op: +((b.wrk - a.wrk) / dt / rate * 1e6).toFixed(3), srv_cores: +((b.srv - a.srv) / dt).toFixed(2), wrk_cores: +((b.wrk - a.wrk) / dt).toFixed(2), load: loadavg()[0].toFixed(2) }));
}
await server.stop();

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildReport } from '../report/markdown.js';
import type { BenchResults } from './schema.js';

/** `2026-11-25T08-40-12Z`: a timestamp that is a valid file name everywhere. */
export function fileStamp(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
}

/** Writes `<stamp>.json`, `latest.json`, `latest.md` and the charts; returns the paths written. */
export function writeResults(dir: string, results: BenchResults): string[] {
  mkdirSync(dir, { recursive: true });
  const json = `${JSON.stringify(results, null, 2)}\n`;
  const written: string[] = [];
  const put = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    written.push(path);
  };
  put(`${fileStamp(new Date(results.startedAt))}.json`, json);
  put('latest.json', json);
  const report = buildReport(results);
  put('latest.md', report.markdown);
  for (const [name, svg] of report.charts) put(name, svg);
  return written;
}

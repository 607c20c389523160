/** piscina entry for AOF compaction: the logic lives in src/aof/rewrite-job.ts (tested there). */
export { rewriteShardFiles as default } from '../src/aof/rewrite-job.js';

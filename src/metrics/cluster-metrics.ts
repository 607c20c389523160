/**
 * The cluster's part of GET /metrics: members by state, and the coordinator's figures (replication,
 * per peer, hints, clock skew) as Coordinator.stats() holds them; sections added there later show up
 * as gauges (see flatten).
 */
import type { MemberView } from '../kv/member-view.js';
import { type Exposition, flatten, isRecord, numeric } from './exposition.js';

const MEMBER_STATES: readonly MemberView['state'][] = ['alive', 'suspect', 'dead', 'left'];

/** Replication figures that are counters (the rest of Coordinator.stats() is written as gauges). */
const REPLICATION_COUNTERS = new Set([
  'replicated',
  'coordinatedReads',
  'coordinatedWrites',
  'partial',
  'readRepairs',
  'readRepairFailures',
  'timedOut',
]);
const PEER_COUNTERS = new Set(['records', 'sends', 'acknowledged', 'failed', 'refused']);
const HINT_COUNTERS = new Set([
  'added',
  'delivered',
  'dropped',
  'writeFailures',
  'batches',
  'failedBatches',
  'refusedForSkew',
]);

/** The member table and the coordinator's figures (undefined on a node alone). */
export function writeClusterFigures(
  out: Exposition,
  members: readonly MemberView[],
  replication: Record<string, unknown> | undefined,
): void {
  for (const state of MEMBER_STATES) {
    out.sample(
      'lally_cluster_members',
      'gauge',
      'members this node knows, itself included, by state',
      members.filter((m) => m.state === state).length,
      { state },
    );
  }
  if (replication === undefined) return;
  const { peers, hints, clockSkew, ...top } = replication;
  const help = 'replication figures of the coordinator (GET /stats `replication`)';
  const renamed: Record<string, unknown> = { ...top };
  if ('timedOut' in renamed) {
    out.sample(
      'lally_replication_quorum_timeouts_total',
      'counter',
      'quorum waits that ended at quorum_timeout_ms',
      numeric(renamed.timedOut) ?? 0,
    );
    delete renamed.timedOut;
  }
  flatten(out, 'lally_replication', renamed, REPLICATION_COUNTERS, undefined, help);
  if (isRecord(peers)) {
    for (const [peer, fields] of Object.entries(peers)) {
      if (!isRecord(fields)) continue;
      flatten(
        out,
        'lally_replication_peer',
        fields,
        PEER_COUNTERS,
        { peer },
        'replication to one peer (backlog: queued or unacknowledged records)',
      );
    }
  }
  if (isRecord(hints)) {
    const { targets, ...rest } = hints;
    flatten(
      out,
      'lally_hints',
      rest,
      HINT_COUNTERS,
      undefined,
      'hinted handoff (GET /stats `replication.hints`)',
    );
    if (isRecord(targets)) {
      for (const [target, queued] of Object.entries(targets)) {
        out.sample(
          'lally_hints_queued_for',
          'gauge',
          'hints queued per target member (id prefix)',
          numeric(queued) ?? 0,
          { target },
        );
      }
    }
  }
  if (isRecord(clockSkew)) {
    flatten(
      out,
      'lally_clock_skew',
      clockSkew,
      new Set(Object.keys(clockSkew)),
      undefined,
      'replicated batches refused for a version too far ahead',
    );
  }
}

/**
 * The main thread's cluster parts (gossip, replication, anti-entropy, hints, transfers: all of gRPC and
 * protobuf behind them), gathered so that the daemon can import them with one `import()` once its shard
 * threads are started. Loading them costs the main thread about a third of a second of CPU at start;
 * imported statically they delayed every shard's start, and so its AOF replay, by that much.
 */
export { SkewGuard } from '../clock/skew-guard.js';
export { AntiEntropy } from '../cluster/anti-entropy/anti-entropy.js';
export { LocalTree } from '../cluster/anti-entropy/local-tree.js';
export { treeHandler } from '../cluster/anti-entropy/tree-service.js';
export { ClusterNode } from '../cluster/cluster-node.js';
export { Coordinator } from '../cluster/coordinator.js';
export { HintStore } from '../cluster/hints/hint-store.js';
export { LocalReplica } from '../cluster/local-replica.js';
export { NodeTransfer } from '../cluster/node-transfer.js';
export { readHandler } from '../rpc/replica-read.js';
export { replicateHandler } from '../rpc/replication-service.js';
export { rpcSecurityOf } from '../rpc/rpc-security.js';

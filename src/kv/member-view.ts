/**
 * One cluster member as the main thread hands it to the shards (control message) and the HTTP layer
 * serves it (GET /nodes, GET /cluster). Neutral: neither the shards nor HTTP import the cluster.
 */
export interface MemberView {
  readonly id: string;
  readonly address: string;
  readonly state: 'alive' | 'suspect' | 'dead' | 'left';
  readonly incarnation: number;
  /** Epoch ms this node last heard from the member directly; undefined if never (or itself). */
  readonly lastHeard: number | undefined;
  readonly self: boolean;
  /**
   * The member's share of the hash ring as one of a key's replicas (0..1; the shares sum to the
   * replication factor, capped at the ring's size), or undefined for a member that left. Not used for
   * routing yet: writes stay on the node that receives them.
   */
  readonly ringShare: number | undefined;
}

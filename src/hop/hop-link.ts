/** One direction of a thread pair, as a hop endpoint needs it (an Outbox over a ring implements it). */
export interface HopLink {
  /** Queues one request made of up to three parts; false when the link cannot take it (back-pressure). */
  send(first: Uint8Array, second?: Uint8Array, third?: Uint8Array): boolean;
  /**
   * Queues one answer: never refused while the link is open (false only once it is closed). A link
   * without it sends answers with `send`.
   */
  sendAnswer?(first: Uint8Array, second?: Uint8Array): boolean;
  /** Bytes of answers queued outside the ring, which the answer budget bounds (0 when absent). */
  readonly answerBacklogBytes?: number;
}

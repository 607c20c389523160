/** Flags of the peer servers (`--port 1234 --threads 2 ...`): numbers only, all required. */
export function numericFlags<K extends string>(
  argv: readonly string[],
  names: readonly K[],
): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const name of names) {
    const at = argv.indexOf(`--${name}`);
    const value = at >= 0 ? Number(argv[at + 1]) : Number.NaN;
    if (!Number.isInteger(value) || value < 0)
      throw new Error(`--${name} <non-negative integer> is required`);
    out[name] = value;
  }
  return out;
}

/** A JSON object of exactly `bytes` bytes (at least the bare envelope), like a Lally answer of that size. */
export function paddedJson(bytes: number): string {
  const head = '{"status":"success","message":"';
  const tail = '"}';
  return head + 'x'.repeat(Math.max(0, bytes - head.length - tail.length)) + tail;
}

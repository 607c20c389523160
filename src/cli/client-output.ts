/**
 * The client's human output (`lally nodes|cluster|stats|put|del` without --json): plain lines that
 * read well in a terminal and grep well in a pipe. The answers' shapes are docs/api.md's.
 */

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `stored "k" (success, quorum 1/1, 2026-11-25T08:40:00.123Z)` */
export function renderWrite(verb: string, key: string, answer: unknown): string {
  if (!isRecord(answer)) return `${verb} ${JSON.stringify(key)}`;
  const parts: string[] = [];
  if (typeof answer.status === 'string') parts.push(answer.status);
  const quorum = answer.quorum;
  if (isRecord(quorum)) parts.push(`quorum ${String(quorum.achieved)}/${String(quorum.required)}`);
  if (typeof answer.timestamp === 'string') parts.push(answer.timestamp);
  return `${verb} ${JSON.stringify(key)}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}`;
}

export function renderNodes(answer: unknown): string {
  const nodes = isRecord(answer) && Array.isArray(answer.nodes) ? answer.nodes : [];
  if (nodes.length === 0) return '(no other live members)\n';
  return nodes.map((node) => `${String(node)}\n`).join('');
}

export function renderCluster(answer: unknown): string {
  const members = isRecord(answer) && Array.isArray(answer.members) ? answer.members.filter(isRecord) : [];
  const rows = [['ID', 'ADDRESS', 'STATE', 'RING SHARE', 'LAST HEARD']];
  for (const member of members) {
    const share = typeof member.ring_share === 'number' ? `${(member.ring_share * 100).toFixed(1)}%` : '-';
    const heard =
      member.self === true
        ? '(this node)'
        : typeof member.last_heard_ms_ago === 'number'
          ? `${member.last_heard_ms_ago} ms ago`
          : '-';
    rows.push([
      String(member.id ?? '-'),
      String(member.address ?? '-'),
      String(member.state ?? '-'),
      share,
      heard,
    ]);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map(
      (row) =>
        `${row
          .map((cell, column) => cell.padEnd(widths[column]!))
          .join('  ')
          .trimEnd()}\n`,
    )
    .join('');
}

/** Every leaf of the stats answer as `path: value`, arrays by index (`shards.0.keys: 500`). */
export function renderStats(answer: unknown): string {
  const lines: string[] = [];
  const walk = (value: unknown, path: string) => {
    if (Array.isArray(value)) {
      if (value.length === 0) lines.push(`${path}: []`);
      for (const [index, item] of value.entries())
        walk(item, path === '' ? String(index) : `${path}.${index}`);
    } else if (isRecord(value)) {
      const entries = Object.entries(value);
      if (entries.length === 0 && path !== '') lines.push(`${path}: {}`);
      for (const [name, item] of entries) walk(item, path === '' ? name : `${path}.${name}`);
    } else {
      lines.push(`${path}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
    }
  };
  walk(answer, '');
  return lines.map((line) => `${line}\n`).join('');
}

/**
 * The Prometheus text exposition format (version 0.0.4), written by hand for Lally's own figures:
 * they are read from shared memory and shard answers at scrape time, which prom-client's metric
 * objects (made to be bumped in place) do not fit. prom-client writes the process's default metrics.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'untyped';
export type Labels = Readonly<Record<string, string | number>>;

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function renderLabels(labels: Labels | undefined, extra?: [string, string]): string {
  const parts: string[] = [];
  if (labels !== undefined) {
    for (const [name, value] of Object.entries(labels)) parts.push(`${name}="${escapeLabel(String(value))}"`);
  }
  if (extra !== undefined) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function renderValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

/** `someName` or `some-name` as `some_name`: metric name parts from JSON field names. */
export function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^a-zA-Z0-9_]/g, '_')
    .toLowerCase();
}

interface Family {
  readonly type: MetricType;
  readonly help: string;
  readonly lines: string[];
}

/** Collects metric families (each written once, with all its samples) and renders them. */
export class Exposition {
  readonly #families = new Map<string, Family>();

  #family(name: string, type: MetricType, help: string): Family {
    let family = this.#families.get(name);
    if (family === undefined) {
      family = { type, help, lines: [] };
      this.#families.set(name, family);
    } else if (family.type !== type) {
      throw new Error(`metric ${name} is a ${family.type}, not a ${type}`);
    }
    return family;
  }

  /** Declares a family (so that it is listed even with no sample yet). */
  declare(name: string, type: MetricType, help: string): void {
    this.#family(name, type, help);
  }

  sample(
    name: string,
    type: Exclude<MetricType, 'histogram'>,
    help: string,
    value: number,
    labels?: Labels,
  ): void {
    this.#family(name, type, help).lines.push(`${name}${renderLabels(labels)} ${renderValue(value)}`);
  }

  /** A histogram from per-bucket (not cumulative) counts; `counts` has one more entry than `bounds` (+Inf). */
  histogram(
    name: string,
    help: string,
    bounds: readonly number[],
    counts: readonly number[],
    sum: number,
    labels?: Labels,
  ): void {
    const family = this.#family(name, 'histogram', help);
    let cumulative = 0;
    for (let i = 0; i <= bounds.length; i++) {
      cumulative += counts[i] ?? 0;
      const le = i < bounds.length ? String(bounds[i]) : '+Inf';
      family.lines.push(`${name}_bucket${renderLabels(labels, ['le', le])} ${cumulative}`);
    }
    family.lines.push(`${name}_sum${renderLabels(labels)} ${renderValue(sum)}`);
    // The +Inf bucket, not `count`: a scrape that races a writer still reads a consistent histogram.
    family.lines.push(`${name}_count${renderLabels(labels)} ${cumulative}`);
  }

  render(): string {
    let text = '';
    for (const [name, family] of this.#families) {
      text += `# HELP ${name} ${escapeHelp(family.help)}\n# TYPE ${name} ${family.type}\n`;
      for (const line of family.lines) text += `${line}\n`;
    }
    return text;
  }
}

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function numeric(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return undefined;
}

/**
 * A nested record of figures as samples named `prefix_<path>`, `_total` for the keys `counters` names.
 * Figures added to /stats later (anti-entropy, say) show up here as gauges without a change.
 */
export function flatten(
  out: Exposition,
  prefix: string,
  record: Record<string, unknown>,
  counters: ReadonlySet<string>,
  labels: Labels | undefined,
  help: string,
): void {
  for (const [key, value] of Object.entries(record)) {
    const name = `${prefix}_${snakeCase(key)}`;
    const n = numeric(value);
    if (n !== undefined) {
      if (counters.has(key)) out.sample(`${name}_total`, 'counter', help, n, labels);
      else out.sample(name, 'gauge', help, n, labels);
    } else if (isRecord(value)) {
      flatten(out, name, value, new Set(), labels, help);
    }
  }
}

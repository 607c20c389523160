/** A tiny SVG writer: elements as strings, attributes escaped, nothing else. */

export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' }[c]};`,
  );
}

type Attributes = Record<string, string | number | undefined>;

function attributes(attrs: Attributes): string {
  return Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXml(typeof v === 'number' ? String(Math.round(v * 100) / 100) : v!)}"`)
    .join('');
}

export function element(name: string, attrs: Attributes, children: string | string[] = ''): string {
  const inner = Array.isArray(children) ? children.join('') : children;
  return inner ? `<${name}${attributes(attrs)}>${inner}</${name}>` : `<${name}${attributes(attrs)}/>`;
}

export function text(x: number, y: number, content: string, attrs: Attributes = {}): string {
  return element('text', { x, y, 'font-size': 12, ...attrs }, escapeXml(content));
}

export function svgDocument(width: number, height: number, title: string, body: string[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${element(
    'svg',
    {
      xmlns: 'http://www.w3.org/2000/svg',
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      'font-family': 'system-ui, -apple-system, Segoe UI, sans-serif',
    },
    [element('title', {}, escapeXml(title)), element('rect', { width, height, fill: '#ffffff' }), ...body],
  )}\n`;
}

/** Colours that stay apart for the colour-blind (Okabe-Ito). */
export const PALETTE = [
  '#0072B2',
  '#E69F00',
  '#009E73',
  '#CC79A7',
  '#56B4E9',
  '#D55E00',
  '#F0E442',
  '#000000',
];

/** A round axis maximum above `max`: 1, 2 or 5 times a power of ten. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

/** 12345 -> "12.3k", 1234567 -> "1.23M". */
export function shortNumber(x: number): string {
  if (Math.abs(x) >= 1e6) return `${Number((x / 1e6).toPrecision(3))}M`;
  if (Math.abs(x) >= 1e3) return `${Number((x / 1e3).toPrecision(3))}k`;
  return String(Number(x.toPrecision(3)));
}

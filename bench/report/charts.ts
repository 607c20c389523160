import { element, niceMax, PALETTE, shortNumber, svgDocument, text } from './svg.js';

export interface BarGroup {
  label: string;
  /** One value per series; null draws nothing (not measured). */
  values: (number | null)[];
  /** Printed after each bar's value, such as "0.93x" (one per series; missing: none). */
  notes?: (string | undefined)[];
}

export interface BarChart {
  title: string;
  unit: string;
  series: string[];
  groups: BarGroup[];
  /** How values are printed on the bars (default: 12.3k). */
  format?: (value: number) => string;
  /** A vertical reference line, such as 1.0 on a ratio chart. */
  reference?: { value: number; label: string };
}

/** Legend entries flowing left to right, wrapping at `width`; returns the elements and the height used. */
function legend(series: string[], x0: number, y0: number, width: number): { body: string[]; height: number } {
  const body: string[] = [];
  let x = x0;
  let y = y0;
  series.forEach((name, i) => {
    const w = 24 + name.length * 6.5;
    if (x > x0 && x + w > width) {
      x = x0;
      y += 18;
    }
    body.push(element('rect', { x, y, width: 10, height: 10, fill: PALETTE[i % PALETTE.length] }));
    body.push(text(x + 14, y + 9, name, { 'font-size': 11 }));
    x += w;
  });
  return { body, height: y - y0 + 18 };
}

/** Horizontal grouped bars: one group per case, one bar per series, values printed on the bars. */
export function barChartSvg(chart: BarChart): string {
  // Wide enough for the longest case label (about 6.6 px per character at the default 12 px font).
  const longest = Math.max(0, ...chart.groups.map((group) => group.label.length));
  const labelWidth = Math.max(160, Math.ceil(longest * 6.6) + 16);
  const plotWidth = 460;
  const barHeight = 14;
  const groupGap = 10;
  const width = labelWidth + plotWidth + 160;
  const key = legend(chart.series, 10, 32, width - 10);
  const top = 40 + key.height;
  const groupHeight = chart.series.length * barHeight + groupGap;
  const height = top + chart.groups.length * groupHeight + 40;
  const format = chart.format ?? shortNumber;
  const max = niceMax(
    Math.max(0, chart.reference?.value ?? 0, ...chart.groups.flatMap((g) => g.values.map((v) => v ?? 0))),
  );
  const scale = (v: number) => (v / max) * plotWidth;
  const body: string[] = [text(10, 22, chart.title, { 'font-size': 15, 'font-weight': 'bold' }), ...key.body];
  for (let t = 0; t <= 4; t++) {
    const x = labelWidth + (plotWidth * t) / 4;
    body.push(element('line', { x1: x, y1: top - 4, x2: x, y2: height - 30, stroke: '#dddddd' }));
    body.push(text(x, height - 14, format((max * t) / 4), { 'font-size': 10, 'text-anchor': 'middle' }));
  }
  if (chart.reference) {
    const x = labelWidth + scale(chart.reference.value);
    body.push(
      element('line', {
        x1: x,
        y1: top - 6,
        x2: x,
        y2: height - 30,
        stroke: '#555555',
        'stroke-dasharray': '4 3',
      }),
    );
    body.push(text(x + 3, top - 8, chart.reference.label, { 'font-size': 10 }));
  }
  body.push(text(labelWidth + plotWidth, height - 2, chart.unit, { 'font-size': 10, 'text-anchor': 'end' }));
  chart.groups.forEach((group, g) => {
    const y0 = top + g * groupHeight;
    body.push(
      text(labelWidth - 8, y0 + (chart.series.length * barHeight) / 2 + 4, group.label, {
        'text-anchor': 'end',
      }),
    );
    group.values.forEach((value, s) => {
      if (value === null || !Number.isFinite(value)) return;
      const y = y0 + s * barHeight;
      const w = Math.max(1, scale(value));
      body.push(
        element('rect', {
          x: labelWidth,
          y,
          width: w,
          height: barHeight - 2,
          fill: PALETTE[s % PALETTE.length],
        }),
      );
      const note = group.notes?.[s] ? `  ${group.notes[s]}` : '';
      body.push(text(labelWidth + w + 4, y + barHeight - 4, `${format(value)}${note}`, { 'font-size': 10 }));
    });
  });
  return svgDocument(width, height, chart.title, body);
}

export interface LineSeries {
  name: string;
  points: { x: number; y: number }[];
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
}

/** Lines with dots over numeric x values (throughput against shards). */
export function lineChartSvg(chart: LineChart): string {
  const width = 640;
  const height = 380;
  const left = 70;
  const right = 180;
  const top = 50;
  const bottom = 50;
  const xs = chart.series.flatMap((s) => s.points.map((p) => p.x));
  const xMin = Math.min(...xs, 1);
  const xMax = Math.max(...xs, xMin + 1);
  const yMax = niceMax(Math.max(0, ...chart.series.flatMap((s) => s.points.map((p) => p.y))));
  const px = (x: number) => left + ((x - xMin) / (xMax - xMin)) * (width - left - right);
  const py = (y: number) => height - bottom - (y / yMax) * (height - top - bottom);
  const body: string[] = [text(10, 22, chart.title, { 'font-size': 15, 'font-weight': 'bold' })];
  for (let t = 0; t <= 4; t++) {
    const y = py((yMax * t) / 4);
    body.push(element('line', { x1: left, y1: y, x2: width - right, y2: y, stroke: '#dddddd' }));
    body.push(text(left - 6, y + 4, shortNumber((yMax * t) / 4), { 'font-size': 10, 'text-anchor': 'end' }));
  }
  for (const x of [...new Set(xs)].sort((a, b) => a - b)) {
    body.push(text(px(x), height - bottom + 16, String(x), { 'font-size': 10, 'text-anchor': 'middle' }));
  }
  body.push(text((left + width - right) / 2, height - 12, chart.xLabel, { 'text-anchor': 'middle' }));
  body.push(text(14, top - 12, chart.yLabel, { 'font-size': 11 }));
  chart.series.forEach((series, i) => {
    const colour = PALETTE[i % PALETTE.length]!;
    const points = [...series.points].sort((a, b) => a.x - b.x);
    if (points.length > 1) {
      const d = points.map((p, j) => `${j ? 'L' : 'M'}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ');
      body.push(element('path', { d, fill: 'none', stroke: colour, 'stroke-width': 2 }));
    }
    for (const p of points) body.push(element('circle', { cx: px(p.x), cy: py(p.y), r: 4, fill: colour }));
    body.push(
      element('rect', { x: width - right + 16, y: top + i * 20, width: 10, height: 10, fill: colour }),
    );
    body.push(text(width - right + 30, top + i * 20 + 9, series.name, { 'font-size': 11 }));
  });
  return svgDocument(width, height, chart.title, body);
}

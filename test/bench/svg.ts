import t from 'tap';
import { barChartSvg, lineChartSvg } from '../../bench/report/charts.js';
import { escapeXml, niceMax, shortNumber } from '../../bench/report/svg.js';

/**
 * A strict little XML well-formedness check (no dependency): every tag closes in order, attributes
 * are quoted, entities are the five XML ones. Returns the element names in document order.
 */
function parseXml(xml: string): string[] {
  const names: string[] = [];
  const stack: string[] = [];
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const token = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/g;
  let m: RegExpExecArray | null;
  const rest = body.trim();
  for (m = token.exec(rest); m; m = token.exec(rest)) {
    const [, closing, name, attrs, selfClosing, textContent, stray] = m;
    if (stray) throw new Error(`stray < at ${m.index}`);
    const checkEntities = (s: string) => {
      for (const e of s.match(/&[^;]*;?/g) ?? []) {
        if (!/^&(amp|lt|gt|quot|apos);$/.test(e)) throw new Error(`bad entity ${e}`);
      }
    };
    if (textContent !== undefined) {
      if (stack.length === 0 && textContent.trim()) throw new Error('text outside the root');
      checkEntities(textContent);
      continue;
    }
    checkEntities(attrs ?? '');
    const attrNames = [...(attrs ?? '').matchAll(/([\w:-]+)=/g)].map((a) => a[1]);
    if (new Set(attrNames).size !== attrNames.length) throw new Error(`duplicate attribute in <${name}>`);
    if (closing) {
      if (stack.pop() !== name) throw new Error(`</${name}> closes the wrong element`);
    } else {
      if (stack.length === 0 && names.length > 0) throw new Error('two roots');
      names.push(name!);
      if (!selfClosing) stack.push(name!);
    }
  }
  if (stack.length) throw new Error(`unclosed <${stack.join('>, <')}>`);
  return names;
}

t.test('the checker itself rejects broken XML', async (t) => {
  t.throws(() => parseXml('<svg><g></svg>'));
  t.throws(() => parseXml('<svg a=1/>'));
  t.throws(() => parseXml('<svg>&nbsp;</svg>'));
  t.throws(() => parseXml('<svg/><svg/>'));
  t.same(parseXml('<svg><g a="1"/>x &amp; y</svg>'), ['svg', 'g']);
});

t.test('bar chart: valid SVG with a bar per value and escaped labels', async (t) => {
  const svg = barChartSvg({
    title: 'Lally <vs> "ceiling" & co',
    unit: 'ops/s',
    series: ['Lally', 'ceiling'],
    groups: [
      { label: 'GET 16 B', values: [90_000, 100_000], notes: ['0.90x'] },
      { label: "PUT <'1 KiB'>", values: [50_000, null] },
    ],
  });
  const names = parseXml(svg);
  t.equal(names[0], 'svg');
  t.match(svg, /xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  t.ok(names.includes('title'));
  t.match(svg, /Lally &lt;vs&gt; &quot;ceiling&quot; &amp; co/);
  // background + 2 legend swatches + 3 bars (null draws nothing)
  t.equal(names.filter((n) => n === 'rect').length, 6);
  t.match(svg, /0\.90x/);
});

t.test('line chart: valid SVG with a path per series and a dot per point', async (t) => {
  const svg = lineChartSvg({
    title: 'Throughput against shards',
    xLabel: 'shards',
    yLabel: 'ops/s',
    series: [
      {
        name: 'Lally GET',
        points: [
          { x: 1, y: 50_000 },
          { x: 2, y: 90_000 },
        ],
      },
      {
        name: 'ceiling GET',
        points: [
          { x: 1, y: 60_000 },
          { x: 2, y: 100_000 },
        ],
      },
      { name: 'one point', points: [{ x: 2, y: 10 }] },
    ],
  });
  const names = parseXml(svg);
  t.equal(names.filter((n) => n === 'path').length, 2);
  t.equal(names.filter((n) => n === 'circle').length, 5);
});

t.test('helpers', async (t) => {
  t.equal(escapeXml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
  t.equal(niceMax(87_000), 100_000);
  t.equal(niceMax(120), 200);
  t.equal(niceMax(0), 1);
  t.equal(shortNumber(123_456), '123k');
  t.equal(shortNumber(1_234_567), '1.23M');
  t.equal(shortNumber(0.5), '0.5');
});

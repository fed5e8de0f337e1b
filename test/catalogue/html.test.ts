/** The data dictionary page escapes every text that comes from a schema (docs, names, owner). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CatalogueEntry } from '../../src/catalogue/entry.js';
import { renderDictionary } from '../../src/catalogue/html.js';

const hostile = `<script>alert("x")</script> & 'quotes' </section>`;

function entry(type: string, fingerprint: string, fields: CatalogueEntry['fields']): CatalogueEntry {
  return {
    format: 'multidispatch-catalogue/1', type, fingerprint, topic: 't.v1', doc: hostile, fields, files: {}, descriptor: {}, status: 'active', firstPushedAt: '2026-12-04T00:00:00Z', owner: hostile,
    rule: { type, topic: 't.v1', metricName: 'm', statsdCounter: true, tags: [{ field: 'market', protoName: 'market', kind: 'enum' }], file: 'a.proto' },
  };
}

describe('renderDictionary', () => {
  it('renders every type and field, escapes schema text, and lists versions with what changed', () => {
    const f = (number: number, name: string, doc = ''): CatalogueEntry['fields'][number] => ({ number, name, jsonName: name, type: 'string', label: 'singular', doc, tag: name === 'market', highCardinality: name === 'user_id', eventTime: false, key: false });
    const v1 = entry('a.v1.E', '1111111111111111', [f(1, 'user_id', hostile), f(2, 'market')]);
    const v2 = { ...entry('a.v1.E', '2222222222222222', [f(1, 'user_id', hostile), f(2, 'market'), f(3, 'extra')]), firstPushedAt: '2026-12-05T00:00:00Z' };
    const html = renderDictionary({ topic: 'cat', generatedAt: 'now', types: [{ latest: v2, versions: [v1, v2] }] });
    assert.ok(!html.includes('<script>alert'), 'no raw script from a doc');
    assert.ok(!html.includes('</section> &'), 'no raw markup from a doc');
    assert.match(html, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt; &amp; &#39;quotes&#39;/);
    assert.match(html, /<code>user_id<\/code>/);
    assert.match(html, /high cardinality/);
    assert.match(html, /StatsD tag/);
    assert.match(html, /\+ extra \(3\)/);
    assert.match(html, /2 version\(s\)/);
    assert.equal((html.match(/<script>/g) ?? []).length, 1, 'only the page\'s own search script');
  });
});

import type { CatalogueEntry, CatalogueField } from './entry.js';

/** What the data dictionary page shows: each type's latest entry and its versions, oldest first. */
export interface DictionaryInput {
  topic: string;
  generatedAt: string;
  types: Array<{ latest: CatalogueEntry; versions: CatalogueEntry[] }>;
}

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/** Documentation text as HTML paragraphs (escaped; blank lines separate paragraphs). */
function docHtml(doc: string): string {
  if (!doc) return '<p class="none">No documentation in the .proto file.</p>';
  return doc
    .split(/\n\s*\n/)
    .map((p) => `<p>${escapeHtml(p).replace(/\n/g, '<br>')}</p>`)
    .join('');
}

function typeText(f: CatalogueField): string {
  if (f.label === 'map') return `map&lt;${escapeHtml(f.keyType ?? '?')}, ${escapeHtml(f.type)}&gt;`;
  return `${f.label === 'singular' ? '' : `${f.label} `}${escapeHtml(f.type)}`;
}

function badges(f: CatalogueField): string {
  const out: string[] = [];
  if (f.key) out.push('<span class="b key" title="the Kafka record key">key</span>');
  if (f.tag) out.push('<span class="b tag" title="sent as a StatsD tag (low cardinality)">StatsD tag</span>');
  if (f.highCardinality) out.push('<span class="b hc" title="unbounded values (ids): never a StatsD tag; query it in the warehouse">high cardinality</span>');
  if (f.eventTime) out.push('<span class="b time" title="when the event happened">event time</span>');
  if (f.oneof) out.push(`<span class="b oneof" title="at most one field of the oneof is set">oneof ${escapeHtml(f.oneof)}</span>`);
  return out.join(' ');
}

function changes(before: CatalogueEntry | undefined, after: CatalogueEntry): string {
  if (!before) return 'first version';
  const old = new Map(before.fields.map((f) => [f.number, f.name]));
  const now = new Map(after.fields.map((f) => [f.number, f.name]));
  const parts = [...now].filter(([n]) => !old.has(n)).map(([n, name]) => `+ ${name} (${n})`);
  parts.push(...[...old].filter(([n]) => !now.has(n)).map(([n, name]) => `− ${name} (${n})`));
  return parts.length > 0 ? parts.join(', ') : 'nested types or options changed';
}

/** The id of a type's section (letters, digits, . and - only). */
const anchor = (type: string): string => `t-${type.replace(/[^A-Za-z0-9.-]/g, '-')}`;

/**
 * A self-contained, searchable data dictionary of the catalogue: one HTML file, no external resources; every text from
 * the schemas is HTML-escaped. The search box filters types and fields by name and documentation (it works without
 * JavaScript too: everything is rendered on the page).
 */
export function renderDictionary(input: DictionaryInput): string {
  const types = [...input.types].sort((a, b) => a.latest.type.localeCompare(b.latest.type));
  const toc = types
    .map(({ latest: e }) => `<li data-search="${escapeHtml(`${e.type} ${e.topic}`.toLowerCase())}"><a href="#${anchor(e.type)}">${escapeHtml(e.type)}</a>${e.status === 'deprecated' ? ' <span class="b dep">deprecated</span>' : ''}</li>`)
    .join('\n');
  const sections = types
    .map(({ latest: e, versions }) => {
      const rows = e.fields
        .map(
          (f) =>
            `<tr data-search="${escapeHtml(`${f.name} ${f.jsonName} ${f.doc}`.toLowerCase())}"><td class="num">${f.number}</td><td><code>${escapeHtml(f.name)}</code>${f.jsonName !== f.name ? `<br><small>JSON / column: <code>${escapeHtml(f.jsonName)}</code></small>` : ''}</td><td><code>${typeText(f)}</code></td><td>${badges(f)}</td><td>${docHtml(f.doc)}</td></tr>`,
        )
        .join('\n');
      const vrows = versions
        .map((v, i) => `<tr><td><code>${escapeHtml(v.fingerprint)}</code>${v.fingerprint === e.fingerprint ? ' (latest)' : ''}</td><td>${escapeHtml(v.firstPushedAt)}</td><td>${escapeHtml(changes(versions[i - 1], v))}</td></tr>`)
        .join('\n');
      const search = `${e.type} ${e.topic} ${e.doc} ${e.owner ?? ''}`.toLowerCase();
      return `<section id="${anchor(e.type)}" data-search="${escapeHtml(search)}">
<h2>${escapeHtml(e.type)}${e.status === 'deprecated' ? ` <span class="b dep">deprecated since ${escapeHtml(e.deprecatedSince ?? '?')}</span>` : ''}</h2>
${docHtml(e.doc)}
<dl>
<dt>Kafka topic</dt><dd><code>${escapeHtml(e.topic)}</code></dd>
<dt>StatsD</dt><dd>${e.rule.statsdCounter ? `counter <code>${escapeHtml(e.rule.metricName)}</code>, tags ${e.rule.tags.map((t) => `<code>${escapeHtml(t.protoName)}</code>`).join(', ') || 'none'}` : 'no counter'}</dd>
<dt>Owner</dt><dd>${escapeHtml(e.owner ?? 'not set')}</dd>
<dt>Source</dt><dd><code>${escapeHtml(e.rule.file)}</code></dd>
</dl>
<table class="fields"><thead><tr><th>#</th><th>field</th><th>type</th><th></th><th>meaning</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<details><summary>${versions.length} version(s)</summary>
<table><thead><tr><th>fingerprint</th><th>first pushed</th><th>what changed</th></tr></thead><tbody>
${vrows}
</tbody></table></details>
</section>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Event catalogue: ${escapeHtml(input.topic)}</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d2330}
header{position:sticky;top:0;background:#fff;border-bottom:1px solid #dde;padding:.6em 1.2em;z-index:1}
header input{font:inherit;width:min(40em,90%);padding:.35em .6em}
main{display:flex;gap:2em;padding:0 1.2em}
nav{min-width:16em;max-width:22em}nav ul{list-style:none;padding:0}nav li{margin:.2em 0}
section{border-top:1px solid #dde;padding:.4em 0 1.2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border-bottom:1px solid #eef;padding:.3em .6em;text-align:left;vertical-align:top}
td p{margin:0 0 .3em}.num{text-align:right;color:#667}.none{color:#889;font-style:italic}
.b{font-size:.78em;border-radius:.8em;padding:.05em .55em;white-space:nowrap;background:#eef}
.key{background:#e3ecff}.tag{background:#dff5e1}.hc{background:#ffe9d6}.time{background:#f2e6ff}.dep{background:#ffd9d9}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dd{margin:0}
.hidden{display:none}
</style></head>
<body>
<header><strong>Event catalogue</strong> · topic <code>${escapeHtml(input.topic)}</code> · ${types.length} event type(s) · generated ${escapeHtml(input.generatedAt)}<br>
<input id="q" type="search" placeholder="Search types, fields and documentation" aria-label="search"></header>
<main><nav><ul>
${toc}
</ul></nav>
<div id="types">
${sections}
</div></main>
<script>
const q = document.getElementById('q');
q.addEventListener('input', () => {
  const words = q.value.toLowerCase().split(/\\s+/).filter(Boolean);
  const hit = (el) => words.every((w) => (el.dataset.search || '').includes(w));
  for (const s of document.querySelectorAll('section')) {
    const rows = [...s.querySelectorAll('tbody tr[data-search]')];
    const own = hit(s);
    let anyRow = false;
    for (const r of rows) { const h = own || hit(r); r.classList.toggle('hidden', !h && words.length > 0); anyRow ||= h; }
    s.classList.toggle('hidden', words.length > 0 && !own && !anyRow);
  }
  for (const li of document.querySelectorAll('nav li')) {
    const target = document.getElementById(li.querySelector('a').getAttribute('href').slice(1));
    li.classList.toggle('hidden', target.classList.contains('hidden'));
  }
});
</script>
</body></html>
`;
}

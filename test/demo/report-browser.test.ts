/**
 * The report in a real browser (Debian's chromium, headless): it loads with no script error, no console error and
 * no blocked request, the three panels render at full width, no SQL block scrolls sideways, a copy button works,
 * and the page follows prefers-color-scheme. Chromium missing is a failure, not a skip: .ci/run installs it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { renderHtml } from '../../src/demo/report.js';
import { demoReportFixture } from './fixture.js';

const CHROMIUM = process.env.CHROMIUM ?? 'chromium';

// Injected before the page's own head: records errors, console.error and CSP violations (a request the page tried
// to make) into data-* attributes of <html>, then measures the laid-out page and clicks the first copy button.
const PROBE = `<script>(function(){var d=document.documentElement,errs=[];
function rec(m){errs.push(String(m));d.setAttribute('data-errors',JSON.stringify(errs));}
d.setAttribute('data-errors','[]');
window.addEventListener('error',function(e){rec(e.message||('resource error: '+(e.target&&(e.target.src||e.target.href))));},true);
window.addEventListener('unhandledrejection',function(e){rec('unhandled rejection: '+e.reason);});
document.addEventListener('securitypolicyviolation',function(e){rec('CSP blocked '+e.blockedURI+' ('+e.violatedDirective+')');});
var ce=console.error;console.error=function(){rec([].slice.call(arguments).join(' '));ce.apply(console,arguments);};
window.addEventListener('load',function(){
var q=function(s){return [].slice.call(document.querySelectorAll(s));};
d.setAttribute('data-pre-overflow',String(q('pre').filter(function(p){return p.scrollWidth>p.clientWidth+1;}).length));
d.setAttribute('data-svg-sizes',JSON.stringify(q('svg').map(function(s){var r=s.getBoundingClientRect();return [Math.round(r.width),Math.round(r.height)];})));
d.setAttribute('data-bg',getComputedStyle(d).backgroundColor);
d.setAttribute('data-details-open',String(q('details[open]').length));
var b=document.querySelector('button[data-copy]');
var st=document.getElementById('copy-status');d.setAttribute('data-copy-status','(none)');
new MutationObserver(function(){d.setAttribute('data-copy-status',st.textContent);}).observe(st,{childList:true,characterData:true,subtree:true});
if(b)b.click();
});})();</script>`;

function dumpDom(html: string, extra: string[] = []): { dom: string; attr: (name: string) => string | undefined } {
  const dir = mkdtempSync(join(tmpdir(), 'md-report-'));
  try {
    const file = join(dir, 'report.html');
    writeFileSync(file, html.replace('<head>', `<head>${PROBE}`));
    const r = spawnSync(
      CHROMIUM,
      ['--headless=new', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--window-size=1280,2200', '--virtual-time-budget=3000',
        '--host-resolver-rules=MAP * ~NOTFOUND', `--user-data-dir=${join(dir, 'profile')}`, ...extra, '--dump-dom', pathToFileURL(file).href],
      { encoding: 'utf8', timeout: 90_000 },
    );
    if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
      assert.fail(`${CHROMIUM} is not installed: this test needs a headless browser (Debian: apt-get install -y chromium; .ci/run installs it; or set CHROMIUM=/path/to/chrome)`);
    }
    assert.equal(r.status, 0, `chromium exited ${r.status} ${r.signal ?? ''}\n${r.stderr}`);
    const dom = r.stdout;
    const htmlTag = /<html[^>]*>/.exec(dom)?.[0] ?? '';
    const attr = (name: string) => {
      const m = new RegExp(`${name}="([^"]*)"`).exec(htmlTag);
      return m ? m[1]!.replace(/&quot;/g, '"').replace(/&amp;/g, '&') : undefined;
    };
    return { dom, attr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('demo report in headless Chromium', () => {
  const html = renderHtml(demoReportFixture());

  it('loads without errors or requests; the panels render; SQL wraps; copy works', () => {
    const { dom, attr } = dumpDom(html);
    assert.equal(attr('data-errors'), '[]', 'script errors, console errors or blocked requests');
    for (const id of ['panel-rate', 'panel-alert', 'panel-users']) assert.match(dom, new RegExp(`<figure class="panel" id="${id}">`));
    assert.match(dom, /<p class="summary" id="summary">[^<]*alert fired at/);
    const sizes = JSON.parse(attr('data-svg-sizes') ?? '[]') as Array<[number, number]>;
    assert.equal(sizes.length, 3);
    for (const [w, h] of sizes) assert.ok(w >= 700 && h >= 180, `an SVG laid out at ${w}×${h}`);
    assert.equal(attr('data-pre-overflow'), '0', 'a SQL block scrolls sideways');
    assert.equal(attr('data-details-open'), '0', 'the other alerts start collapsed');
    // Headless Chromium refuses the Clipboard API without a real user gesture, so this usually sees the fallback.
    assert.match(attr('data-copy-status') ?? '', /^(Copied|Selected: press Ctrl\+C)$/, `copy button: ${attr('data-copy-status')}`);
    assert.equal(attr('data-bg'), 'rgb(255, 255, 255)');
  });

  it('follows prefers-color-scheme: dark', () => {
    const { attr } = dumpDom(html, ['--force-dark-mode', '--blink-settings=preferredColorScheme=0']);
    assert.equal(attr('data-errors'), '[]');
    assert.equal(attr('data-bg'), 'rgb(20, 24, 29)');
  });
});

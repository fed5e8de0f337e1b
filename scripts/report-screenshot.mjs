#!/usr/bin/env node
// Renders a demo report (report.json from `multidispatch demo`; default: the test fixture, a captured run) to HTML
// and screenshots it with headless Chromium, for docs/images/demo-report.png:
//   node scripts/report-screenshot.mjs [report.json] [out.png]
// Needs `chromium` on PATH (Debian: apt-get install -y chromium) or CHROMIUM=/path/to/chrome.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tsImport } from 'tsx/esm/api';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const input = resolve(process.argv[2] ?? join(root, 'test/fixtures/demo-report.json'));
const output = resolve(process.argv[3] ?? join(root, 'docs/images/demo-report.png'));
const { renderHtml } = await tsImport('../src/demo/report.ts', import.meta.url);

const dir = mkdtempSync(join(tmpdir(), 'md-screenshot-'));
try {
  const file = join(dir, 'report.html');
  writeFileSync(file, renderHtml(JSON.parse(readFileSync(input, 'utf8'))));
  const r = spawnSync(
    process.env.CHROMIUM ?? 'chromium',
    ['--headless=new', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--force-device-scale-factor=1', '--window-size=1280,2200',
      '--host-resolver-rules=MAP * ~NOTFOUND', `--user-data-dir=${join(dir, 'profile')}`, `--screenshot=${output}`, pathToFileURL(file).href],
    { encoding: 'utf8', timeout: 90_000 },
  );
  if (r.error || r.status !== 0) {
    process.stderr.write(`chromium failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stderr ?? ''}\n`);
    process.exit(1);
  }
  process.stdout.write(`${output}: ${Math.round(statSync(output).size / 1024)} KB from ${input}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

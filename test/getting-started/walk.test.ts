/**
 * docs/getting-started.md, followed literally by a new user: the package is packed (`npm pack`), installed into an
 * empty folder outside this repository, and every ```console walk block of the page is run and every
 * ```<lang> file=PATH block written, in page order, in ONE bash shell (so `eval "$(… --print-env)"` carries over).
 * The only change to the page's text: `npm install multidispatch` installs the packed tarball instead of the
 * registry's version. The page cannot drift from what is tested: the commands come from it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';

const root = resolve(import.meta.dirname, '../..');

interface Step { kind: 'console' | 'file'; body: string; path?: string }

/** The walk's blocks, in page order. */
export function walkSteps(markdown: string): Step[] {
  const steps: Step[] = [];
  for (const m of markdown.matchAll(/^```(\w+)(?: (walk|file=(\S+)))?\n([\s\S]*?)^```$/gm)) {
    if (m[2] === 'walk' && m[1] === 'console') steps.push({ kind: 'console', body: m[4]! });
    else if (m[3]) steps.push({ kind: 'file', body: m[4]!, path: m[3] });
  }
  return steps;
}

/** SIGKILLs every process whose command line names `dir` (Linux /proc), except this one. */
function killProcessesUnder(dir: string): void {
  if (!existsSync('/proc')) return;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number)) {
    if (pid === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmdline.includes(dir) && !cmdline.includes('kafka.Kafka') && !cmdline.includes('statsd_exporter')) process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
}

describe('docs/getting-started.md, followed literally from an empty folder with the packed package', () => {
  const work = mkdtempSync(join(tmpdir(), 'md-getting-started-'));
  const project = join(work, 'shop');
  after(() => {
    // Whatever happened, stop what the walk started: anything still running from the project folder (a derive left in
    // the background by a failed step), then the broker and the receiver (dev down is idempotent).
    killProcessesUnder(project);
    if (existsSync(join(project, '.multidispatch'))) {
      spawnSync(process.execPath, [join(root, 'bin/multidispatch.js'), 'dev', 'down', '--data-dir', join(project, '.multidispatch', 'dev')], { timeout: 60_000 });
    }
    rmSync(work, { recursive: true, force: true });
  });

  it('every step works and shows what the page says', { timeout: 900_000 }, () => {
    const steps = walkSteps(readFileSync(join(root, 'docs/getting-started.md'), 'utf8'));
    assert.ok(steps.filter((s) => s.kind === 'console').length >= 5, 'the page has its walk blocks');
    assert.ok(steps.some((s) => s.body.includes('npm install multidispatch')), 'the walk installs the package');

    const pack = spawnSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: root, encoding: 'utf8', timeout: 300_000 });
    assert.equal(pack.status, 0, pack.stderr);
    const tarball = join(work, readdirSync(work).find((f) => f.endsWith('.tgz'))!);

    const script = ['set -euo pipefail', `mkdir -p ${JSON.stringify(project)} && cd ${JSON.stringify(project)}`];
    steps.forEach((s, i) => {
      script.push(`echo "@@step ${i}"`);
      if (s.kind === 'file') script.push(`mkdir -p "$(dirname ${JSON.stringify(s.path)})"`, `cat > ${JSON.stringify(s.path)} <<'MD_WALK_EOF'`, s.body.replace(/\n$/, ''), 'MD_WALK_EOF');
      else script.push(s.body.replace(/^npm install multidispatch$/m, `npm install --no-audit --no-fund ${JSON.stringify(tarball)}`));
    });
    script.push('echo "@@done"');
    writeFileSync(join(work, 'walk.sh'), `${script.join('\n')}\n`);

    // A new user's shell: none of the suite's servers, no dev dir override.
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of ['KAFKA_BROKERS', 'STATSD_HOST', 'STATSD_PORT', 'STATSD_METRICS_URL', 'MULTIDISPATCH_DEV_DIR', 'MULTIDISPATCH_KAFKA_CONFIG', 'NODE_OPTIONS']) delete env[k];
    const r = spawnSync('bash', [join(work, 'walk.sh')], { cwd: work, env, encoding: 'utf8', timeout: 600_000, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 });
    const out = r.stdout;
    assert.equal(r.signal, null, `the walk did not finish (killed by ${r.signal}); stdout:\n${out}\nstderr:\n${r.stderr.slice(-4000)}`);
    assert.equal(r.status, 0, `a step failed; stdout:\n${out}\nstderr:\n${r.stderr.slice(-4000)}`);
    assert.match(out, /@@done/);
    const step = (i: number) => out.split(`@@step ${i}\n`)[1]!.split('@@')[0]!;
    const consoleSteps = steps.map((s, i) => (s.kind === 'console' ? i : -1)).filter((i) => i >= 0);
    const [setup, codegen, publish, load, derive] = consoleSteps.map(step);

    // 1. dev up --statsd: both servers, and the exports reached the shell.
    assert.match(setup!, /^running$/m);
    assert.match(setup!, /^statsd: +udp 127\.0\.0\.1:\d+, http:\/\/127\.0\.0\.1:\d+\/metrics/m);
    // 2. codegen wrote JS + types; the schema's topic exists with its declared partitions.
    assert.ok(existsSync(join(project, 'events.js')) && existsSync(join(project, 'events.d.ts')));
    assert.match(codegen!, /created payments\.v1 \(3 partitions\)/);
    // 3. Published, read back, and counted by the StatsD receiver with only the low-cardinality tags.
    assert.match(publish!, /^published 20 payment failures$/m);
    const tailed = publish!.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; event: { userId: string } });
    assert.equal(tailed.length, 2);
    assert.ok(tailed.every((t) => t.type === 'shop.v1.PaymentFailed' && t.event.userId.startsWith('user-')));
    const counters = publish!.split('\n').filter((l) => l.startsWith('payment_failed{'));
    assert.equal(counters.length, 2, publish);
    assert.ok(counters.some((l) => /market="GB"/.test(l) && / 15$/.test(l)), counters.join('\n'));
    assert.ok(counters.some((l) => /market="FR"/.test(l) && / 5$/.test(l)), counters.join('\n'));
    assert.ok(counters.every((l) => !/user|order/.test(l)), 'no high-cardinality tag reached StatsD');
    // 4. Loaded once, and the query answers by hand: FR is i % 4 === 0 (5 events, users 4,1,5,2,6), GB the other 15 (all 7 users).
    assert.match(load!, /^loaded 20 row\(s\)/m);
    assert.match(load!, /^\| FR +\| +5 \| +5 \| +12995 \|$/m);
    assert.match(load!, /^\| GB +\| +15 \| +7 \| +38985 \|$/m);
    // 5. derive became ready, consumed the events, and stopped cleanly; dev down stopped both servers.
    assert.match(derive!, /^ok$/m, 'readyz answered ok');
    assert.match(derive!, /^multidispatch_derive_consumed_records_total [1-9]\d*$/m);
    assert.match(r.stderr, /stopped the StatsD receiver/);
    assert.match(r.stderr, /stopped Kafka/);
  });
});

/**
 * The CLI's log lines: JSON for collectors and pipes, short human lines on a terminal (or --log-format pretty).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../support/loader.js';
import { prettyLine } from '../../src/cli/log.js';

describe('CLI log format', () => {
  it('a pino JSON line becomes time, level, message and the fields as key=value', () => {
    const json = JSON.stringify({ level: 30, time: Date.UTC(2026, 11, 4, 12, 3, 4), pid: 1, hostname: 'h', name: 'multidispatch-load', msg: 'loader started', topics: ['orders.v1'], group: 'analytics', note: 'two words' });
    assert.equal(prettyLine(json, false), '12:03:04 INFO  loader started  topics=["orders.v1"] group=analytics note="two words"\n');
    assert.equal(prettyLine(json, true), '12:03:04 \x1b[36mINFO \x1b[0m loader started  topics=["orders.v1"] group=analytics note="two words"\n');
    assert.equal(prettyLine('not json', false), 'not json');
  });

  it('--log-format pretty prints human lines, json (and auto off a terminal) prints JSON, a bad value is exit 2', (t) => {
    const warehouse = `duckdb:${join(tempDir(t), 'w.duckdb')}`;
    // An unreachable broker: the loader logs that it stopped, then the command fails with exit 7.
    const run = (fmt: string[]) => spawnSync(process.execPath, ['bin/multidispatch.js', 'load', '--once', '--topic', 'x', '--warehouse', warehouse, '--brokers', '127.0.0.1:1', ...fmt], { encoding: 'utf8', timeout: 60_000 });
    const pretty = run(['--log-format', 'pretty']);
    const json = run(['--log-format', 'json']);
    const auto = run([]);
    for (const r of [pretty, json, auto]) assert.equal(r.status, 7, r.stderr);
    const logged = (stderr: string) => stderr.split('\n').filter((l) => l && !l.startsWith('multidispatch:'));
    for (const r of [pretty, json, auto]) assert.ok(logged(r.stderr).length > 0, `no log line to check:\n${r.stderr}`);
    assert.match(pretty.stderr, /^\d\d:\d\d:\d\d INFO  loader stopped  rowsLoaded=0 /m);
    assert.ok(logged(pretty.stderr).every((l) => /^\d\d:\d\d:\d\d (INFO|WARN|ERROR) /.test(l)), pretty.stderr);
    assert.ok(logged(json.stderr).every((l) => l.startsWith('{')), json.stderr);
    assert.deepEqual(logged(auto.stderr).map((l) => l.startsWith('{')), logged(json.stderr).map(() => true), 'not a terminal: JSON');
    const bad = run(['--log-format', 'yaml']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^multidispatch: --log-format must be one of auto, pretty, json, got 'yaml'/m);
  });
});

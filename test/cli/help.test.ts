/**
 * One help style for every command: wrapped at 100 columns (shell examples excepted), defaults as plain values
 * (`(default: proto)`, never `(default: "proto")` or `(default proto)`), and the common sections: examples, the
 * environment it reads, and the shared exit-code table.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { buildProgram } from '../../src/cli/main.js';
import type { Command } from 'commander';

/** Every command that runs something (the leaves of the command tree), as argv prefixes. */
function leaves(cmd: Command, prefix: string[] = []): string[][] {
  const subs = cmd.commands.filter((c) => c.name() !== 'help');
  if (subs.length === 0) return [prefix];
  return subs.flatMap((c) => leaves(c, [...prefix, c.name()]));
}

describe('--help of every command', () => {
  const commands = leaves(buildProgram());

  it('covers the whole command tree', () => {
    const names = commands.map((c) => c.join(' '));
    for (const want of ['catalogue push', 'catalogue list', 'catalogue show', 'catalogue html', 'catalogue backup', 'catalogue restore', 'codegen', 'demo', 'derive', 'dev up', 'dev down', 'dev status', 'load', 'query', 'tail', 'topics create', 'topics list', 'topics describe', 'topics delete']) {
      assert.ok(names.includes(want), `${want} missing from ${names.join(', ')}`);
    }
  });

  for (const argv of commands) {
    it(`${argv.join(' ')}: wrapped, plain defaults, examples, environment, exit codes`, () => {
      const r = spawnSync(process.execPath, ['bin/multidispatch.js', ...argv, '--help'], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 0, r.stderr);
      const text = r.stdout;
      const long = text.split('\n').filter((l) => l.length > 100 && !/^\s*(multidispatch|npx|eval|kafka-acls|[A-Z_]+=|export )/.test(l));
      assert.deepEqual(long, [], 'lines over 100 columns');
      assert.doesNotMatch(text, /\(default: "/, 'a default shown as a JSON string');
      assert.doesNotMatch(text, /\(default [^:]/, 'a default without the colon');
      assert.match(text, /^Examples?:\n {2}(multidispatch|eval) /m);
      assert.match(text, /^Environment/m);
      assert.match(text, /^Exit status \(the same for every command\):\n {2}0 {2}done\n/m);
    });
  }
});

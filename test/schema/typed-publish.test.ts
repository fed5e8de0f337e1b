import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ts from 'typescript';

/**
 * Compile-time checks of the generated event map: each fixture holds one mistake that must not compile.
 * The TypeScript compiler runs in-process over the fixture with the project's own compiler options.
 */
const dir = new URL('../fixtures/compile/', import.meta.url).pathname;

function diagnostics(file: string): string[] {
  const config = ts.readConfigFile('tsconfig.json', ts.sys.readFile).config;
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, process.cwd());
  const program = ts.createProgram([dir + file], { ...options, noEmit: true });
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file?.fileName.endsWith(file))
    .map((d) => `TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
}

describe('publish() is typed by the generated event map', () => {
  it('a correct call compiles', () => {
    assert.deepEqual(diagnostics('ok.ts'), []);
  });

  it('a call without the event-time field compiles (publish() sets it to now)', () => {
    assert.deepEqual(diagnostics('event-time-omitted.ts'), []);
  });

  const cases: Array<[string, RegExp]> = [
    ['misspelt-field.ts', /'amuont' does not exist/],
    ['wrong-type.ts', /Type 'string' is not assignable to type 'boolean'/],
    ['wrong-enum.ts', /'"BLACKBERRY"' is not assignable to type 'Platform'/],
    ['unknown-event.ts', /'"orders\.v1\.PaymentFialed"' is not assignable to parameter/],
    ['missing-required.ts', /Property 'errorCode' is missing/],
  ];
  for (const [file, expected] of cases) {
    it(`${file} does not compile`, () => {
      const found = diagnostics(file);
      assert.ok(found.length > 0, `${file} compiled but must not`);
      assert.ok(found.some((d) => expected.test(d)), `expected ${expected} in:\n${found.join('\n')}`);
    });
  }
});

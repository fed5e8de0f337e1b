#!/usr/bin/env node
import { main } from '../dist/src/cli/main.js';

main(process.argv).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`multidispatch: ${err?.message ?? err}`); process.exitCode = 1; },
);

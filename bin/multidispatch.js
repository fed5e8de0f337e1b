#!/usr/bin/env node
import { main } from '../dist/src/cli/main.js';

// Every command closes what it opened; the guard below only makes sure a cron job never hangs on a handle a
// library left open. The tests set MULTIDISPATCH_NO_EXIT_GUARD=1 so that such a leak fails them instead.
const guard = (code) => {
  if (process.env.MULTIDISPATCH_NO_EXIT_GUARD) return;
  setTimeout(() => process.exit(code), 1000).unref();
};

main(process.argv).then(
  (code) => { process.exitCode = code; guard(code); },
  (err) => { console.error(`multidispatch: ${err?.message ?? err}`); process.exitCode = 1; guard(1); },
);

import { Command, CommanderError } from 'commander';
import { exitCodeFor, MdError } from '../errors.js';
import { registerCodegen } from './commands/codegen.js';
import { registerDemo } from './commands/demo.js';
import { registerDerive } from './commands/derive.js';
import { registerDev } from './commands/dev.js';
import { registerLoad } from './commands/load.js';
import { registerTail } from './commands/tail.js';
import { registerTopics } from './commands/topics.js';

/** Builds the `multidispatch` command tree. Each command lives in ./commands and only parses and delegates. */
export function buildProgram(): Command {
  const program = new Command('multidispatch')
    .description('One typed event to Kafka and StatsD, loaded into the warehouse, turned into derived metrics.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerCodegen(program);
  registerDemo(program);
  registerDerive(program);
  registerDev(program);
  registerLoad(program);
  registerTail(program);
  registerTopics(program);
  return program;
}

/** Runs the CLI and resolves with the process exit status; errors become one line on stderr. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit through here with code 0; usage errors were already printed.
      return err.exitCode === 0 ? 0 : 2;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`multidispatch: ${message}\n`);
    if (err instanceof MdError && 'logTail' in err && typeof err.logTail === 'string' && err.logTail) {
      process.stderr.write(`--- last lines of the log ---\n${err.logTail}\n`);
    }
    return exitCodeFor(err);
  }
}

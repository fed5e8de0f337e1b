import { Command, CommanderError } from 'commander';
import { redact } from '../config/secrets.js';
import { EXIT_CODES_HELP, exitCodeFor, MdError } from '../errors.js';
import { classifyKafkaError } from '../kafka/errors.js';
import { applyConfigFile } from './connection.js';
import { HELP_WIDTH, optionDescription, wrapHelp } from './help.js';
import { registerCatalogue } from './commands/catalogue.js';
import { registerCodegen } from './commands/codegen.js';
import { registerDemo } from './commands/demo.js';
import { registerDerive } from './commands/derive.js';
import { registerDev } from './commands/dev.js';
import { registerLoad } from './commands/load.js';
import { registerQuery } from './commands/query.js';
import { registerTail } from './commands/tail.js';
import { registerTopics } from './commands/topics.js';

/** Builds the `multidispatch` command tree. Each command lives in ./commands and only parses and delegates. */
export function buildProgram(): Command {
  const program = new Command('multidispatch')
    .description('One typed event to Kafka and StatsD, loaded into the warehouse, turned into derived metrics.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    // Set before the commands are added, so that every command inherits the same help layout.
    .configureHelp({ helpWidth: HELP_WIDTH, sortSubcommands: true, optionDescription })
    .configureOutput({ writeOut: (s) => process.stdout.write(wrapHelp(s)) })
    .exitOverride()
    .addHelpText('after', `\n${EXIT_CODES_HELP}`)
    .hook('preAction', (_program, action) => applyConfigFile(action));
  registerCatalogue(program);
  registerCodegen(program);
  registerDemo(program);
  registerDerive(program);
  registerDev(program);
  registerLoad(program);
  registerQuery(program);
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
    // MULTIDISPATCH_DEBUG=1: the stack of the error as it came (redacted like every line), for a bug report.
    if (process.env.MULTIDISPATCH_DEBUG) process.stderr.write(redact(`${String((err as Error)?.stack ?? err)}\n`));
    const typed = classifyKafkaError(err);
    const message = typed instanceof Error ? typed.message : String(typed);
    process.stderr.write(redact(`multidispatch: ${message}\n`));
    if (typed instanceof MdError && 'logTail' in typed && typeof typed.logTail === 'string' && typed.logTail) {
      process.stderr.write(redact(`--- last lines of the log ---\n${typed.logTail}\n`));
    }
    return exitCodeFor(typed);
  }
}

import { EXIT_CODES_HELP } from '../../errors.js';
import type { Command } from 'commander';
import { codegen } from '../../schema/index.js';

export function registerCodegen(program: Command): void {
  program
    .command('codegen')
    .description('Lint the .proto schemas and generate the typed event map (EventMap + schema) used by createPublisher.')
    .option('--proto <dir>', 'folder of .proto files, the include root as for protoc -I', 'proto')
    .option('--out <file>', 'file to write: .ts for TypeScript; .js or .mjs for plain Node, with its .d.ts (.d.mts) beside it', 'src/generated/events.ts')
    .option('--import-from <module>', 'module the generated types import from', 'multidispatch')
    .option('--against <file>', 'descriptor snapshot of the previous version: removed field numbers must be reserved')
    .option('--snapshot <file>', 'also write the current descriptor snapshot (commit it; use it with --against next time)')
    .addHelpText(
      'after',
      `
Lint rules (codegen fails naming file, message and field):
  topic-required, topic-name        an event needs a legal Kafka topic
  key-field-exists, key-field-type  key_field must name a singular scalar field
  tag-vs-high-cardinality           a field cannot be both
  tag-type                          tags are enums, bools, or strings with allowed_values
  event-time-type                   event_time is a google.protobuf.Timestamp or int64 milliseconds
  removed-field-reserved            with --against: a removed field number must be reserved

Imports are checked as protoc checks them: a file that uses a type or a (multidispatch.*) option must import
the file that defines it (file:line:column and the import to add are named).

Examples:
  multidispatch codegen --proto proto --out src/generated/events.ts --snapshot proto/snapshot.json
  multidispatch codegen --proto proto --out events.js     # JavaScript: events.js + events.d.ts
  multidispatch codegen --proto proto --out src/generated/events.ts --against proto/snapshot.json

Environment: none (everything is a flag).

${EXIT_CODES_HELP}`,
    )
    .action(async (opts: { proto: string; out: string; importFrom: string; against?: string; snapshot?: string }) => {
      const result = await codegen({
        protoDir: opts.proto,
        out: opts.out,
        importFrom: opts.importFrom,
        ...(opts.against ? { against: opts.against } : {}),
        ...(opts.snapshot ? { snapshotOut: opts.snapshot } : {}),
      });
      const files = result.declarations ? `${result.out} and ${result.declarations}` : result.out;
      process.stderr.write(`wrote ${files} with ${result.eventTypes.length} event type(s): ${result.eventTypes.join(', ')}\n`);
      if (result.snapshotOut) process.stderr.write(`wrote descriptor snapshot ${result.snapshotOut}\n`);
    });
}

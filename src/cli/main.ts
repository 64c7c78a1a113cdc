#!/usr/bin/env node
// The runtable command: finds the command word, parses its options, runs it and turns what
// happened into an exit code. Every failure ends here as one line on stderr (a stack trace only
// with --debug); every command lives in a file of its own.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GLOBAL_OPTIONS, parseCommandLine, splitCommand, TOP_OPTIONS } from './args.js';
import { broker } from './broker.js';
import { call } from './call.js';
import { type Command, makeContext, notOnEtcd } from './context.js';
import { demo } from './demo.js';
import { describeFailure, EXIT, EXIT_CODES_HELP, exitCodeFor, UsageError } from './exit.js';
import { inspect } from './inspect.js';
import { ls } from './ls.js';
import { monitor } from './monitor.js';
import { exitQuietlyOnClosedPipe, styleFor } from './output.js';
import { services } from './services.js';
import { ui } from './ui.js';
import { wait } from './wait.js';
import { watch } from './watch.js';

const COMMANDS: readonly Command[] = [ls, watch, monitor, call, wait, inspect, services, broker, ui, demo];

const GLOBAL_HELP = `Options for every command:
  --table <etcd://host:port[,host:port...]>
                 a table on etcd (default: RUNTABLE_TABLE, unless --dir
                 is given; unset, the local table). Every command but
                 broker and services works on it as on a local table,
                 without activation; etcd not answering is exit 5
  --dir <path>   the local table's directory (default: RUNTABLE_DIR, else
                 $XDG_RUNTIME_DIR/runtable, else <tmpdir>/runtable-<uid>)
  --debug        on failure, the whole error with its stack and causes
  -h, --help     help for the command`;

const ENVIRONMENT_HELP = `Results are JSON (NDJSON for watch, monitor and a streamed call result) whenever
stdout is not a terminal; --json asks for JSON on a terminal too.

Environment: RUNTABLE_DIR (the table directory), RUNTABLE_TABLE (a table on
etcd, as --table; it also needs RUNTABLE_SECRET, or RUNTABLE_TLS_CA, _CERT and
_KEY, and takes RUNTABLE_ETCD_PREFIX, as every process of that table does: see
docs/DISTRIBUTED.md), RUNTABLE_DEBUG=1 (as --debug), RUNTABLE_SERVICES
(directories of service files, colon-separated), NO_COLOR (no colour; colour is
used only on a terminal anyway).`;

function topHelp(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  const lines = COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`);
  return `runtable: a running object table for Node.js

Usage: runtable <command> [options]

Commands:
${lines.join('\n')}

${GLOBAL_HELP}
  -v, --version  the version of runtable

Examples:
  runtable ls SampleServer/
  runtable call SampleServer/alpha sendData hello
  runtable watch --json
  runtable monitor SampleServer/
  runtable help call

${EXIT_CODES_HELP}

${ENVIRONMENT_HELP}
`;
}

function commandHelp(command: Command): string {
  return `${command.help}\n\n${GLOBAL_HELP}\n\n${EXIT_CODES_HELP}\n\n${ENVIRONMENT_HELP}\n`;
}

function version(): string {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  return (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

function findCommand(name: string): Command {
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (!command) {
    const names = COMMANDS.map((candidate) => candidate.name).join(', ');
    throw new UsageError(`unknown command "${name}"; the commands are ${names}`);
  }
  return command;
}

async function main(argv: string[]): Promise<number> {
  const { command: name, rest } = splitCommand(argv);
  if (name === undefined) {
    const { values, positionals } = parseCommandLine(rest, TOP_OPTIONS);
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (values.version) process.stdout.write(`${version()}\n`);
    else if (values.help) process.stdout.write(topHelp());
    else {
      process.stderr.write(topHelp());
      return EXIT.USAGE;
    }
    return EXIT.OK;
  }
  if (name === 'help') {
    const { positionals } = parseCommandLine(rest, GLOBAL_OPTIONS);
    const topic = positionals[0];
    process.stdout.write(topic === undefined ? topHelp() : commandHelp(findCommand(topic)));
    return EXIT.OK;
  }
  const command = findCommand(name);
  const { values, positionals } = parseCommandLine(rest, { ...GLOBAL_OPTIONS, ...command.options }, command.name);
  if (values.help) {
    process.stdout.write(commandHelp(command));
    return EXIT.OK;
  }
  const context = makeContext(values, positionals, command.name);
  if (command.localOnly !== undefined && context.etcd) {
    throw notOnEtcd(context, `the ${command.name} command`, command.localOnly, command.name);
  }
  return command.run(context);
}

exitQuietlyOnClosedPipe();
const argv = process.argv.slice(2);
const debug = argv.includes('--debug') || Boolean(process.env.RUNTABLE_DEBUG);
let code: number;
try {
  code = await main(argv);
} catch (error) {
  process.stderr.write(describeFailure(error, styleFor(process.stderr), debug));
  code = exitCodeFor(error);
}
process.exitCode = code;
// Everything is closed by now; a handle left open by mistake must not keep the shell waiting.
setTimeout(() => process.exit(code), 2000).unref();

#!/usr/bin/env node
// The runtable command. For now it explains itself; ls, watch, call, inspect, broker and demo
// arrive with the CLI issue.

const HELP = `runtable: a running object table for Node.js

Usage: runtable <command> [options]

Commands (coming with the CLI):
  ls [prefix]                        list the table
  watch [prefix]                     print changes as they happen
  call <moniker> <method> [args...]  call a method with JSON arguments
  inspect <moniker>                  everything the table knows of one entry
  broker status|start|stop           the table's broker
  ui                                 the live viewer in a browser
  demo                               the seed scenario

Options:
  --dir <path>   table directory (default: RUNTABLE_DIR, $XDG_RUNTIME_DIR/runtable, or a tmpdir one)
  -h, --help     this text
`;

const args = process.argv.slice(2);
if (args.length === 0 || args.includes('--help') || args.includes('-h') || args[0] === 'help') {
  process.stdout.write(HELP);
} else {
  process.stderr.write(`runtable: "${args[0]}" is not available yet; see runtable --help\n`);
  process.exitCode = 2;
}

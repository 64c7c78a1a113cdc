// runtable ui: the viewer, a web page on 127.0.0.1 that shows the table live and calls its
// objects. Prints the page's URL (token included) and serves until Ctrl-C or SIGTERM, exit 0.
// Like every command that reads, it never starts a broker: it waits for one (or for etcd).

import { spawn } from 'node:child_process';
import { startViewer } from '../ui/server.js';
import { expectArgs } from './args.js';
import { type Command, openTable, tableName } from './context.js';
import { EXIT, Failure, UsageError } from './exit.js';
import { note, print } from './output.js';

export const ui: Command = {
  name: 'ui',
  summary: 'serve a live web viewer of the table on 127.0.0.1',
  help: `Usage: runtable ui [--port n] [--open]

Serves the viewer, a web page that shows the table live (every entry with its
pid, methods, metadata and age), lets you call a method with JSON arguments,
subscribe to an object's events and watch a stream's items arrive, and draws
the processes and the objects each holds. Prints the page's URL and serves
until Ctrl-C or SIGTERM, then exits 0.

The server listens on 127.0.0.1 only. The URL carries a random token that
every request needs (the page keeps it in a cookie after the first load);
requests naming another Host or coming from another Origin are refused (403).
With no broker running the page waits for one; the viewer never starts one.
On a table on etcd (--table, RUNTABLE_TABLE) it shows etcd where the broker
would be, and waits for etcd while it does not answer.

Options:
  --port <n>     listen on this port (default: a free one)
  --open         open the URL in the default browser too

Examples:
  runtable ui
  runtable ui --port 8377 --open
  runtable ui --dir /tmp/my-table
  runtable ui --table etcd://10.0.0.5:2379`,
  options: { port: { type: 'string' }, open: { type: 'boolean' } },

  async run(context) {
    expectArgs(context.positionals, [], 'ui');
    const port = portOption(context.values.port);
    let viewer: Awaited<ReturnType<typeof startViewer>>;
    try {
      viewer = await startViewer({
        dir: tableName(context),
        backend: context.etcd ? 'etcd' : 'broker',
        open: () => openTable(context),
        ...(port ? { port } : {}),
      });
    } catch (error) {
      throw new Failure((error as Error).message);
    }
    print(viewer.url);
    note(`runtable: viewer of table ${tableName(context)}; Ctrl-C to stop`);
    if (context.values.open) openBrowser(viewer.url);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await viewer.close();
    return EXIT.OK;
  },
};

function portOption(text: string | boolean | undefined): number | undefined {
  if (text === undefined) return undefined;
  const port = Number(text);
  if (typeof text !== 'string' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--port must be a whole number from 0 to 65535, not "${String(text)}"`, 'ui');
  }
  return port;
}

/** The platform's own opener; a failure to open is told, not fatal: the URL is printed anyway. */
function openBrowser(url: string): void {
  const [command, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['cmd', ['/c', 'start', '', url]]
        : ['xdg-open', [url]];
  const child = spawn(command, args, { stdio: 'ignore', detached: true });
  child.once('error', (error) => note(`runtable: could not open a browser (${error.message}); open the URL above`));
  child.unref();
}

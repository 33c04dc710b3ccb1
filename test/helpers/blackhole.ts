import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

/**
 * A loopback port where a connect neither succeeds nor fails until the caller's own deadline: a
 * Python listener with a backlog of one, filled by a first connection, so that further SYNs are
 * dropped. One per test file; `stop()` ends it.
 */
export function blackhole(): { port: () => Promise<number>; stop: () => void } {
  let child: ChildProcess | undefined;
  let port: Promise<number> | undefined;
  return {
    port() {
      port ??= (async () => {
        child = spawn('python3', [
          '-c',
          [
            'import socket, sys, time',
            's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
            'f = socket.create_connection(s.getsockname())',
            'g = socket.socket(); g.setblocking(False)',
            'g.connect_ex(s.getsockname())',
            'print(s.getsockname()[1], flush=True)',
            'sys.stdin.read()',
          ].join('\n'),
        ]);
        const [line] = (await once(child.stdout!, 'data')) as [Buffer];
        return Number(line.toString().trim());
      })();
      return port;
    },
    stop() {
      child?.kill();
    },
  };
}

/**
 * A network namespace reached through a rate-limited veth pair, so that UDP can really fill a
 * socket's send buffer: over loopback (or a plain veth) Linux frees a datagram's buffer inside
 * sendmsg, but behind a `tbf` qdisc the datagram waits there still charged to the sending socket,
 * a small SO_SNDBUF fills, sendmsg says EAGAIN and node:dgram queues (what flow control reads).
 *
 * The host end (this process's namespace) carries the qdisc; the other end lives in the namespace,
 * where a small child program binds a UDP socket and hands it to this process over IPC (a process
 * is in one namespace; a socket stays in the one it was made in). Needs root and iproute2; where
 * either is missing, or the kernel refuses, `createSlowVeth` returns why, for a skip message.
 */
import { execFileSync, type SendHandle, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { hasCommand } from './commands.js';
import { withTimeout } from './peers.js';

/** The two ends' addresses of one family. */
export interface VethAddresses {
  /** On the host end, in this process's namespace (the qdisc's side). */
  host: string;
  /** On the end inside the namespace. */
  inside: string;
}

export interface SlowVeth {
  readonly namespace: string;
  readonly udp4: VethAddresses;
  /** `null` where IPv6 could not be set up; `udp6Skip` says why. */
  readonly udp6: VethAddresses | null;
  readonly udp6Skip: string | undefined;
  /**
   * Binds a `type` socket inside the namespace, passes its port to `connectTo`, which returns the
   * address to connect it to (an endpoint of this process), and resolves with the connected socket.
   */
  socketInside(
    type: 'udp4' | 'udp6',
    connectTo: (port: number) => Promise<{ host: string; port: number }>,
  ): Promise<dgram.Socket>;
  /** Deletes the namespace and the veth pair; safe to call twice. */
  remove(): void;
}

const PREFIX = 'tlskit-udp-';
const FIXTURE = new URL('../fixtures/netns-udp-socket.mjs', import.meta.url).pathname;
const STEP_TIMEOUT = 5_000;
/**
 * 10 Mbit/s: a synchronous burst outruns it by orders of magnitude, so the queue fills at once,
 * and the conformance rules' largest burst (about 72 KB) still drains in a tenth of a second.
 */
const QDISC = ['rate', '10mbit', 'burst', '4kb', 'limit', '1mb'];

/** Runs a command; its error names the command and what it printed. */
function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`\`${command} ${args.join(' ')}\` failed: ${stderr || (error as Error).message}`);
  }
}

const ip = (...args: string[]) => run('ip', args);

function quietly(run: () => unknown): void {
  try {
    run();
  } catch {
    // absent already
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
};

/** Deletes namespaces (and stray host ends) left by runs that died before their cleanup. */
function removeStale(): void {
  for (const line of ip('netns', 'list').split('\n')) {
    const match = new RegExp(`^${PREFIX}(\\d+)\\b`).exec(line);
    if (match && !alive(Number(match[1]))) quietly(() => ip('netns', 'delete', match[0]));
  }
  for (const match of ip('-o', 'link', 'show').matchAll(/^\d+: (tku(\d+)[hn])[@:]/gm)) {
    if (!alive(Number(match[2]))) quietly(() => ip('link', 'delete', match[1]!));
  }
}

/** A /30 and a /64 no other interface uses, derived from the pid so parallel runs differ. */
function pickSubnet(): { udp4: VethAddresses; udp6: VethAddresses } {
  const used = ip('-o', 'addr', 'show');
  for (let step = 0; step < 256; step++) {
    // From 1: index 0 would print as fd00:7c5:213::1, not the fd00:7c5:213:0::1 looked for.
    const index = 1 + ((process.pid + step) % 16_383);
    const v4 = `10.213.${index >> 6}.`;
    const base = (index & 63) * 4;
    const v6 = `fd00:7c5:213:${index.toString(16)}::`;
    const udp4 = { host: `${v4}${base + 1}`, inside: `${v4}${base + 2}` };
    const udp6 = { host: `${v6}1`, inside: `${v6}2` };
    if (![udp4.host, udp4.inside, udp6.host].some((address) => used.includes(` ${address}/`))) {
      return { udp4, udp6 };
    }
  }
  throw new Error('no free subnet under 10.213.0.0/16 after 256 tries');
}

/** Sets up the namespace and the veth pair, or says why it cannot. */
export function createSlowVeth(): SlowVeth | string {
  const why = 'so the rate-limited veth pairs (real UDP send-queue flow control) cannot be set up';
  if (process.platform !== 'linux') return `skipped: network namespaces are Linux only, ${why}`;
  if (process.getuid?.() !== 0) return `skipped: not root, ${why}`;
  if (!hasCommand('ip') || !hasCommand('tc')) return `skipped: iproute2 (ip, tc) is not installed, ${why}`;
  const namespace = `${PREFIX}${process.pid}`;
  const hostEnd = `tku${process.pid}h`;
  const insideEnd = `tku${process.pid}n`;
  const remove = () => {
    quietly(() => ip('netns', 'delete', namespace));
    quietly(() => ip('link', 'delete', hostEnd));
  };
  let subnet: ReturnType<typeof pickSubnet>;
  try {
    removeStale();
    remove();
    subnet = pickSubnet();
    ip('netns', 'add', namespace);
    ip('link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', insideEnd, 'netns', namespace);
    ip('addr', 'add', `${subnet.udp4.host}/30`, 'dev', hostEnd);
    ip('-n', namespace, 'addr', 'add', `${subnet.udp4.inside}/30`, 'dev', insideEnd);
    ip('link', 'set', hostEnd, 'up');
    ip('-n', namespace, 'link', 'set', insideEnd, 'up');
    run('tc', ['qdisc', 'add', 'dev', hostEnd, 'root', 'tbf', ...QDISC]);
  } catch (error) {
    remove();
    return `skipped: ${(error as Error).message}, ${why}`;
  }
  let udp6Skip: string | undefined;
  try {
    // nodad: usable at once, not after duplicate address detection's second or so.
    ip('-6', 'addr', 'add', `${subnet.udp6.host}/64`, 'dev', hostEnd, 'nodad');
    ip('-n', namespace, '-6', 'addr', 'add', `${subnet.udp6.inside}/64`, 'dev', insideEnd, 'nodad');
  } catch (error) {
    udp6Skip = `skipped: IPv6 on the veth pair failed (${(error as Error).message})`;
  }
  return {
    namespace,
    udp4: subnet.udp4,
    udp6: udp6Skip ? null : subnet.udp6,
    udp6Skip,
    socketInside: (type, connectTo) => {
      const addresses = type === 'udp4' ? subnet.udp4 : subnet.udp6;
      return socketInside(namespace, type, addresses.inside, connectTo);
    },
    remove,
  };
}

type Answer = { port?: number; connected?: boolean; error?: string };

async function socketInside(
  namespace: string,
  type: 'udp4' | 'udp6',
  host: string,
  connectTo: (port: number) => Promise<{ host: string; port: number }>,
): Promise<dgram.Socket> {
  const child = spawn('ip', ['netns', 'exec', namespace, process.execPath, FIXTURE, type, host], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const what = () => `the UDP socket helper in namespace ${namespace} (${type} ${host})`;
  // 'disconnect' comes after every message the child sent has been read, unlike 'exit'.
  const gone = new Promise<void>((resolve) => child.once('disconnect', resolve));
  const answer = (step: string) =>
    withTimeout(
      new Promise<[Answer, SendHandle]>((resolve, reject) => {
        const onGone = () => reject(new Error(`${what()} ended before ${step}: ${stderr.trim()}`));
        child.once('disconnect', onGone);
        child.once('message', (message: Answer, handle: SendHandle) => {
          child.off('disconnect', onGone);
          if (message.error) reject(new Error(`${what()}: ${message.error}`));
          else resolve([message, handle]);
        });
      }),
      STEP_TIMEOUT,
      () => `${what()} did not answer ${step} within ${STEP_TIMEOUT} ms: ${stderr.trim()}`,
    );
  let socket: dgram.Socket | undefined;
  try {
    const [bound, handle] = await answer('with its socket');
    if (!(handle instanceof dgram.Socket) || bound.port === undefined) {
      throw new Error(`${what()} sent ${JSON.stringify(bound)} without a UDP socket`);
    }
    socket = handle;
    child.send(await connectTo(bound.port));
    await answer('the connect');
    await withTimeout(gone, STEP_TIMEOUT, () => `${what()} did not exit after the connect`);
    return socket;
  } catch (error) {
    child.kill();
    socket?.close();
    throw error;
  }
}

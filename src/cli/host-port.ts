/**
 * `HOST:PORT` on the command line, for `connect` and both ends of `tunnel`: a name or IPv4
 * address and a port, or an IPv6 address in brackets and a port. A mistake becomes a UsageError
 * that says how to write it, IPv6 without brackets included.
 */
import net from 'node:net';
import { UsageError } from './usage-error.js';

/** Where to connect or listen. */
export interface HostPort {
  host: string;
  port: number;
}

export interface HostPortRules {
  /** What the value is called in messages: a flag (`--to`) or a positional (`HOST:PORT`). */
  label: string;
  /** Text printed under a malformed value (the command's usage); none prints no help. */
  usage?: string;
  /** A bare port is accepted and listens on this host. */
  defaultHost?: string;
  /** Port 0 (any free port) is accepted: listening, not connecting. */
  anyPort?: boolean;
}

/** Reads `value` as `host:port` or `[v6]:port` (or a bare port, given `defaultHost`). */
export function parseHostPort(value: string, rules: HostPortRules): HostPort {
  const { label } = rules;
  const match =
    /^\[([^\]]+)\]:(\d+)$/.exec(value) ??
    /^([^:[\]]+):(\d+)$/.exec(value) ??
    (rules.defaultHost !== undefined ? /^()(\d+)$/.exec(value) : null);
  if (!match) {
    throw new UsageError(`${label} '${value}' is not host:port or [v6]:port; ${writingFix(value)}`, {
      ...(rules.usage === undefined ? { help: false } : { usage: rules.usage }),
    });
  }
  const port = Number(match[2]);
  const lowest = rules.anyPort === true ? 0 : 1;
  if (port < lowest || port > 65535) {
    throw new UsageError(`the port in ${label} '${value}' must be from ${lowest} to 65535, got ${match[2]}`, {
      help: false,
    });
  }
  if (value.startsWith('[') && !net.isIPv6(match[1]!)) {
    throw new UsageError(`'${match[1]}' in brackets in ${label} is not an IPv6 address`, { help: false });
  }
  return { host: match[1] || rules.defaultHost!, port };
}

function writingFix(value: string): string {
  const colons = value.match(/:/g)?.length ?? 0;
  const withoutPort = value.replace(/:\d+$/, '');
  if (colons > 1 && !value.startsWith('[') && net.isIPv6(withoutPort))
    return `write an IPv6 address in brackets: [${withoutPort}]:443`;
  if (colons > 1 && !value.startsWith('[') && net.isIPv6(value))
    return `write an IPv6 address in brackets, then the port: [${value}]:443`;
  if (value.includes(':')) return 'write it as host:port, e.g. example.com:443';
  return `add the port: ${value}:443`;
}

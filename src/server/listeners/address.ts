// The `--listen` address syntax, parsed without touching the network: HOST:PORT, [IPV6]:PORT,
// tls://HOST:PORT, unix:PATH and unix:@NAME (a Linux abstract socket).
import type { ListenerAddress } from "./listener.ts";

export const LISTEN_SYNTAX = "HOST:PORT, [IPV6]:PORT, tls://HOST:PORT, unix:PATH or unix:@NAME";

/** A `--listen` value that is not an address; the message says why, in one sentence. */
export class ListenAddressError extends Error {
  override name = "ListenAddressError";
}

export function parseListenAddress(text: string): ListenerAddress {
  if (text.startsWith("unix:")) {
    const path = text.slice("unix:".length);
    if (path === "" || path === "@")
      throw new ListenAddressError(`'${text}' names no socket (use unix:PATH or unix:@NAME)`);
    // A NUL would cut the path short where the kernel reads it (or make a file path abstract).
    if (path.includes("\0")) throw new ListenAddressError(`'${text}' contains a NUL character`);
    return { transport: "unix", path };
  }
  const tls = text.startsWith("tls://");
  const hostPort = tls ? text.slice("tls://".length) : text;
  // [IPV6]:PORT, or HOST:PORT where HOST has no colon (a bare IPv6 address would be ambiguous).
  const match = /^(?:\[([^\]]+)\]|([^:[\]\s/]+)):(\d{1,5})$/.exec(hostPort);
  if (!match) throw new ListenAddressError(`'${text}' is not an address: use ${LISTEN_SYNTAX}`);
  const host = match[1] ?? match[2]!;
  if (match[1] !== undefined && !host.includes(":")) {
    throw new ListenAddressError(`'${text}': brackets are for IPv6 addresses only`);
  }
  const port = Number(match[3]);
  if (port > 65535) throw new ListenAddressError(`'${text}': the port must be between 0 and 65535`);
  return { transport: tls ? "tls" : "tcp", host, port };
}

// How a peer is named in logs: host:port, with IPv6 hosts in brackets ([::1]:5000).
export function formatAddress(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Where a client connects, named as the server names its listeners: 127.0.0.1:12345, tls://..., unix:/path. */
export function formatTarget(target: { host: string; port: number; unix?: string; tls?: object | boolean }): string {
  if (target.unix !== undefined) return `unix:${target.unix}`;
  const address = formatAddress(target.host, target.port);
  return target.tls ? `tls://${address}` : address;
}

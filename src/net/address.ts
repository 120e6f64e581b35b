// How a peer is named in logs: host:port, with IPv6 hosts in brackets ([::1]:5000).
export function formatAddress(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

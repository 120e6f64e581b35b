// Ports for tests and benchmarks: never a fixed one, since several runs share this machine.

/**
 * A loopback port that nothing listens on (the kernel picked it a moment ago; the race with other
 * programs is tiny): for a server to be started on, or for a connection that must be refused.
 */
export function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

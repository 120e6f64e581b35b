// The live connections of one server: who is served now (and from which address), and what the
// server does to all of them at once (hold their input, sweep the idle ones, close them on shutdown).
import { notices } from "../protocol/messages.ts";
import type { Connection } from "./connection.ts";
import type { ServerEvents } from "./events.ts";

/** Announces arrivals and departures (`connected`, `disconnected`), since it alone knows the count. */
export class ConnectionRegistry {
  private readonly live = new Set<Connection>();
  /**
   * Live connections per address (addressKey: IPv4-mapped counted as IPv4), and sockets from it
   * still waiting for a TLS handshake: for the per-address cap.
   */
  private readonly perAddress = new Map<string, number>();
  /**
   * Sockets accepted by a listener that wait for a stage (a PROXY header, a TLS handshake) before
   * they are served or turned away: they hold file descriptors, so the connection limit counts them.
   */
  private waitingSockets = 0;
  private holdingInput = false;
  private emptied: (() => void) | undefined;

  constructor(private readonly events: ServerEvents) {}

  get size(): number {
    return this.live.size;
  }

  [Symbol.iterator](): IterableIterator<Connection> {
    return this.live.values();
  }

  get waiting(): number {
    return this.waitingSockets;
  }

  connectionsFrom(address: string): number {
    return this.perAddress.get(address) ?? 0;
  }

  /** A socket waits for its stages; `address`: the one whose place it holds, if its own is known. */
  startWaiting(address: string | undefined): void {
    this.waitingSockets++;
    if (address !== undefined) this.countFrom(address, 1);
  }

  stopWaiting(address: string | undefined): void {
    this.waitingSockets--;
    if (address !== undefined) this.countFrom(address, -1);
  }

  private countFrom(address: string, change: 1 | -1): void {
    const count = this.connectionsFrom(address) + change;
    if (count > 0) this.perAddress.set(address, count);
    else this.perAddress.delete(address);
  }

  /**
   * `address`: the peer's addressKey, none for peers without one (Unix sockets); `subject`: the
   * name on the client's certificate (mutual TLS), for the announcement.
   */
  add(connection: Connection, address: string | undefined, subject?: string): void {
    this.live.add(connection);
    if (address !== undefined) this.countFrom(address, 1);
    if (this.holdingInput) connection.hold(true);
    this.events.connected?.(connection.peer, this.live.size, subject);
  }

  delete(connection: Connection, address: string | undefined): void {
    this.live.delete(connection);
    if (address !== undefined) this.countFrom(address, -1);
    this.events.disconnected?.(connection.peer, this.live.size);
    if (this.live.size === 0) this.emptied?.();
  }

  /** Calls `then` once no connection is left (at once if none is). */
  whenEmpty(then: (() => void) | undefined): void {
    this.emptied = then;
    if (then && this.live.size === 0) then();
  }

  /**
   * Stops reading from every client (new ones too) until `until` settles: the operator's output is
   * behind, and messages are better left in the clients' socket buffers than piled up in memory.
   */
  holdInputUntil(until: Promise<unknown>): void {
    if (this.holdingInput) return;
    this.holdingInput = true;
    for (const connection of this.live) connection.hold(true);
    const release = () => {
      this.holdingInput = false;
      for (const connection of this.live) connection.hold(false);
    };
    // Settled either way; a rejection is the caller's to handle, not one more unhandled here.
    until.then(release, release);
  }

  /**
   * Checks idle clients many times per timeout period. Input is stamped at the first sweep after
   * it (Connection.silentFor), and a silence is found at the first sweep after it reaches the
   * limit: a client closes within two periods, ~10%, after its limit, never before.
   */
  sweepIdle(idleTimeoutMs: number): Timer | undefined {
    if (idleTimeoutMs <= 0) return undefined;
    const period = Math.min(500, Math.max(25, idleTimeoutMs / 20));
    const timer = setInterval(() => {
      const now = performance.now();
      for (const connection of this.live) {
        // A client whose input the server holds cannot be seen sending: it is not idle.
        if (connection.state === "open" && !connection.isHeld && connection.silentFor(now) >= idleTimeoutMs) {
          connection.reportLimit("idle", `no input for ${idleTimeoutMs / 1000} s`);
          connection.close(notices.idleTimeout);
        }
      }
    }, period);
    timer.unref();
    return timer;
  }

  /** Drops every connection now; replies still queued are lost. */
  abortAll(): void {
    for (const connection of this.live) connection.abort();
  }

  closeAll(notice: string): void {
    for (const connection of this.live) connection.close(notice);
  }
}

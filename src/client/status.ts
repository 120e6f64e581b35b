// The tutorial's status lines that both client modes print.
import { formatTarget } from "../net/address.ts";
import type { ConnectTarget } from "../net/connect.ts";

export function connectingLine(target: ConnectTarget): string {
  return `[CONNECTING] Connecting to server at ${formatTarget(target)}...`;
}

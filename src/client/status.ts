// The tutorial's status lines that both client modes print.
import { formatAddress } from "../net/address.ts";

export function connectingLine(host: string, port: number): string {
  return `[CONNECTING] Connecting to server at ${formatAddress(host, port)}...`;
}

// How the client and `client bench` reach the server beyond --host/--port (connectArgs in
// args.ts): --unix instead, and the TLS flags. Defined once for both commands; the checks that
// span several flags are usage errors. (Light: --help loads this file.)
import type { TlsSettings } from "../net/tls-files.ts";
import { parsePort, UsageError } from "./args.ts";
import type { HelpArgsDef } from "./help.ts";

export const clientNetworkArgs = {
  unix: {
    type: "string",
    valueHint: "PATH",
    group: "connection",
    description: "Connect to this Unix socket instead of --host/--port (@NAME: a Linux abstract socket)",
  },
  tls: {
    type: "boolean",
    group: "tls",
    description: "Connect with TLS, verifying the server's certificate",
    default: false,
  },
  "tls-ca": {
    type: "string",
    valueHint: "FILE",
    group: "tls",
    description: "Trust the CA certificates in this PEM file instead of the system's",
  },
  "tls-servername": {
    type: "string",
    valueHint: "NAME",
    group: "tls",
    description:
      "The name the server's certificate must carry, if not --host (an IP address is checked against its IP addresses)",
  },
  "tls-insecure": {
    type: "boolean",
    group: "tls",
    description: "Do not verify the server's certificate (anyone on the way can read and change messages)",
    default: false,
  },
  "tls-cert": {
    type: "string",
    valueHint: "FILE",
    group: "tls",
    description: "Present this client certificate (PEM) to a server that asks for one",
  },
  "tls-key": { type: "string", valueHint: "FILE", group: "tls", description: "The private key of --tls-cert (PEM)" },
} as const satisfies HelpArgsDef;

/** The flags clientNetworkArgs defines, plus --host and --port, as citty hands them over. */
export interface ClientNetworkFlags {
  host: string;
  port: string;
  unix?: string;
  tls: boolean;
  "tls-ca"?: string;
  "tls-servername"?: string;
  "tls-insecure": boolean;
  "tls-cert"?: string;
  "tls-key"?: string;
}

export interface ClientNetworkSettings {
  host: string;
  port: number;
  unix?: string;
  tls?: TlsSettings;
}

const TLS_ONLY_FLAGS = ["tls-ca", "tls-servername", "tls-insecure", "tls-cert", "tls-key"] as const;

/** sun_path holds 108 bytes, the last one a NUL for a path (an abstract name has no terminator, but Bun adds one). */
const MAX_UNIX_PATH_BYTES = 107;

export function parseClientNetworkFlags(flags: ClientNetworkFlags): ClientNetworkSettings {
  const tlsOnly = TLS_ONLY_FLAGS.find((flag) => flags[flag] !== undefined && flags[flag] !== false);
  if (!flags.tls && tlsOnly) throw new UsageError(`--${tlsOnly} needs --tls`);
  if ((flags["tls-cert"] === undefined) !== (flags["tls-key"] === undefined))
    throw new UsageError("--tls-cert and --tls-key go together: give both or neither");
  if (flags["tls-insecure"] && flags["tls-ca"] !== undefined)
    throw new UsageError("--tls-insecure verifies nothing, so --tls-ca would not be used: give one of them");
  if (flags.unix !== undefined) {
    if (flags.tls) throw new UsageError("--tls works over TCP only: give --host and --port instead of --unix");
    const name = flags.unix.startsWith("@") ? flags.unix.slice(1) : flags.unix;
    if (name === "") throw new UsageError("--unix needs a path (or @NAME)");
    if (Buffer.byteLength(name) > MAX_UNIX_PATH_BYTES)
      throw new UsageError(`--unix must be at most ${MAX_UNIX_PATH_BYTES} bytes long (the system's limit)`);
  } else if (flags.host === "") {
    // `--host "$HOST"` with HOST unset: Bun's own refusal of it names no flag.
    throw new UsageError("--host needs a name or an address");
  }
  const port = parsePort(flags.port, { allowZero: false });
  return {
    host: flags.host,
    port,
    unix: flags.unix,
    tls: flags.tls
      ? {
          caFile: flags["tls-ca"],
          certFile: flags["tls-cert"],
          keyFile: flags["tls-key"],
          serverName: flags["tls-servername"] ?? flags.host,
          verify: !flags["tls-insecure"],
        }
      : undefined,
  };
}

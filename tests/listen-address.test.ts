// The --listen address syntax (a pure parser, in tables) and the server's flags around it: bad
// values are usage errors (exit 2, one line) before anything listens.
import { describe, expect, test } from "bun:test";
import { repeatedValues } from "../src/cli/flags.ts";
import { ListenAddressError, parseListenAddress } from "../src/server/listeners/address.ts";
import { describeAddress } from "../src/server/listeners/listener.ts";
import { runProgram, SOURCE_SERVER } from "./helpers/processes.ts";

describe("parseListenAddress", () => {
  test.each([
    ["127.0.0.1:12345", { transport: "tcp", host: "127.0.0.1", port: 12345 }],
    ["localhost:0", { transport: "tcp", host: "localhost", port: 0 }],
    ["[::1]:8080", { transport: "tcp", host: "::1", port: 8080 }],
    ["[::]:0", { transport: "tcp", host: "::", port: 0 }],
    ["tls://0.0.0.0:12346", { transport: "tls", host: "0.0.0.0", port: 12346 }],
    ["tls://[::1]:443", { transport: "tls", host: "::1", port: 443 }],
    ["unix:/run/x.sock", { transport: "unix", path: "/run/x.sock" }],
    ["unix:relative.sock", { transport: "unix", path: "relative.sock" }],
    ["unix:@socket-lab", { transport: "unix", path: "@socket-lab" }],
  ])("%s", (text, address) => {
    expect(parseListenAddress(text)).toEqual(address as ReturnType<typeof parseListenAddress>);
    // What the STARTING line shows reads back as the same address.
    expect(parseListenAddress(describeAddress(parseListenAddress(text)))).toEqual(parseListenAddress(text));
  });

  test.each([
    ["12345", "is not an address"],
    ["127.0.0.1", "is not an address"],
    [":12345", "is not an address"],
    ["::1:12345", "is not an address"],
    ["127.0.0.1:65536", "between 0 and 65535"],
    ["127.0.0.1:123456", "is not an address"],
    ["127.0.0.1:-1", "is not an address"],
    ["[127.0.0.1]:80", "brackets are for IPv6"],
    ["tls://", "is not an address"],
    ["http://127.0.0.1:80", "is not an address"],
    ["unix:", "names no socket"],
    ["unix:@", "names no socket"],
    ["unix:/tmp/a\0b", "NUL"],
  ])("%p is refused (%s)", (text, reason) => {
    expect(() => parseListenAddress(text)).toThrow(ListenAddressError);
    expect(() => parseListenAddress(text)).toThrow(reason);
  });
});

test.each([
  [
    ["--listen", "a", "--listen=b", "--port", "1", "--listen", "c"],
    ["a", "b", "c"],
  ],
  [["--listen", "a", "--", "--listen", "b"], ["a"]],
  [["--port", "0"], []],
])("--listen values collected from %p", (args, values) => {
  const defs = { listen: { type: "string" }, port: { type: "string" } } as const;
  expect(repeatedValues(args, defs, "listen")).toEqual(values);
});

test.each([
  [["--listen", "nowhere"], "--listen 'nowhere' is not an address"],
  // `--host "$HOST"` with HOST unset: not taken as every address, as Python's bind takes "".
  [["--host", "", "--port", "0"], "--host needs an address (:: or 0.0.0.0 for every address)"],
  [["--listen", "127.0.0.1:0", "--listen", "unix:"], "--listen 'unix:' names no socket"],
  [["--listen", "unix:/tmp/x.sock", "--unix-mode", "999"], "--unix-mode must be an octal file mode"],
  // Setuid and sticky bits mean nothing on a socket file: permission bits only.
  [["--listen", "unix:/tmp/x.sock", "--unix-mode", "4755"], "--unix-mode must be an octal file mode from 000 to 777"],
  [
    ["--listen", "tls://127.0.0.1:0", "--tls-cert", "a.crt"],
    "a tls:// listener needs --tls-cert FILE and --tls-key FILE",
  ],
  [
    ["--listen", "127.0.0.1:0", "--tls-client-ca", "ca.crt"],
    "--tls-client-ca needs a --listen tls://HOST:PORT listener",
  ],
])("server %p: usage error", async (args, message) => {
  const result = await runProgram(SOURCE_SERVER, args);
  expect(result.exitCode).toBe(2);
  const [line, hint, rest] = result.stderr.split("\n");
  expect(line).toStartWith(`server: ${message}`);
  expect([hint, rest]).toEqual(["Run with --help for usage.", ""]);
});

// Certificates for the TLS tests, made with the real `openssl` command in a temporary folder:
// a CA, server certificates (for localhost and 127.0.0.1, for another name, expired, signed by
// a CA the client does not trust) and a client certificate for mutual TLS.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface CertificatePair {
  cert: string;
  key: string;
}

export interface TestCertificates extends Disposable {
  dir: string;
  /** The CA that signed every certificate below except `untrusted`. */
  ca: string;
  /** For `localhost` and `127.0.0.1`, valid now. */
  server: CertificatePair;
  /** Valid now, but only for `wrong.example`. */
  wrongName: CertificatePair;
  /** For localhost and 127.0.0.1, but valid only in 2020. */
  expired: CertificatePair;
  /** For localhost and 127.0.0.1, signed by a CA nobody trusts. */
  untrusted: CertificatePair;
  /** A client certificate (CN `test-client`) for mutual TLS. */
  client: CertificatePair;
  /** Makes another server certificate for localhost, as a renewal would (a new serial). */
  renew(name: string): CertificatePair & { serial: string };
  /** The serial number of a certificate file, as `openssl x509 -serial` prints it (hex). */
  serialOf(certFile: string): string;
}

function openssl(args: string[], cwd: string): string {
  const result = Bun.spawnSync(["openssl", ...args], { cwd, stderr: "pipe", stdout: "pipe" });
  if (result.exitCode !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${result.stderr.toString()}`);
  return result.stdout.toString();
}

const KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

export function makeCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), "socket-lab-certs-"));
  const file = (name: string) => join(dir, name);
  const selfSignedCa = (name: string, subject: string) =>
    openssl(
      ["req", "-x509", ...KEY, "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "30", "-subj", subject],
      dir,
    );
  selfSignedCa("ca", "/CN=socket-lab test CA");
  selfSignedCa("other-ca", "/CN=socket-lab untrusted CA");

  // `openssl ca` can set any validity period (x509 -req cannot set one in the past on OpenSSL 3.0).
  writeFileSync(file("index.txt"), "");
  writeFileSync(file("serial"), "1000\n");
  writeFileSync(
    file("ca.cnf"),
    [
      "[ca]",
      "default_ca = test",
      "[test]",
      `dir = ${dir}`,
      "database = $dir/index.txt",
      "serial = $dir/serial",
      "new_certs_dir = $dir",
      "default_md = sha256",
      "policy = anything",
      "copy_extensions = copy",
      "unique_subject = no",
      "[anything]",
      "commonName = supplied",
      "",
    ].join("\n"),
  );
  let count = 0;
  const issue = (
    name: string,
    options: { cn: string; san?: string; caName?: string; start?: string; end?: string; client?: boolean },
  ): CertificatePair => {
    const csr = `${name}-${++count}.csr`;
    const ext = options.san ? ["-addext", `subjectAltName=${options.san}`] : [];
    openssl(["req", "-new", ...KEY, "-keyout", `${name}.key`, "-out", csr, "-subj", `/CN=${options.cn}`, ...ext], dir);
    const caName = options.caName ?? "ca";
    const validity = options.start ? ["-startdate", options.start, "-enddate", options.end!] : ["-days", "30"];
    const usage = options.client ? "clientAuth" : "serverAuth";
    writeFileSync(file(`${name}.ext`), `extendedKeyUsage = ${usage}\n`);
    openssl(
      ["ca", "-batch", "-config", "ca.cnf", "-cert", `${caName}.crt`, "-keyfile", `${caName}.key`, "-in", csr].concat(
        ["-out", `${name}.crt`, "-extfile", `${name}.ext`, "-notext"],
        validity,
      ),
      dir,
    );
    return { cert: file(`${name}.crt`), key: file(`${name}.key`) };
  };
  const localhost = "DNS:localhost,IP:127.0.0.1,IP:::1";
  const certificates: TestCertificates = {
    dir,
    ca: file("ca.crt"),
    server: issue("server", { cn: "localhost", san: localhost }),
    wrongName: issue("wrong-name", { cn: "wrong.example", san: "DNS:wrong.example" }),
    expired: issue("expired", { cn: "localhost", san: localhost, start: "20200101000000Z", end: "20200102000000Z" }),
    untrusted: issue("untrusted", { cn: "localhost", san: localhost, caName: "other-ca" }),
    client: issue("client", { cn: "test-client", client: true }),
    renew(name) {
      const pair = issue(name, { cn: "localhost", san: localhost });
      return { ...pair, serial: certificates.serialOf(pair.cert) };
    },
    serialOf(certFile) {
      return openssl(["x509", "-noout", "-serial", "-in", certFile], dir)
        .trim()
        .replace(/^serial=/, "");
    },
    [Symbol.dispose]() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return certificates;
}

/** A file's text, for tests that pass PEM contents rather than paths. */
export const readPem = (path: string) => readFileSync(path, "utf8");

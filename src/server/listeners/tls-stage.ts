// The stage in front of every TLS connection: wait for the handshake (with a deadline), decide
// whether the client is served (see tls-handshake.ts), and name it by its certificate with
// mutual TLS. A client that does not get through costs its connection and one log line.
import type { Socket } from "bun";
import { notices } from "../../protocol/messages.ts";
import type { Peer } from "../peer.ts";
import type { SocketData, SocketStage } from "../socket-handlers.ts";
import { certificatePresented, clientSubject, handshakeFailure } from "./tls-handshake.ts";

export interface TlsStageOptions {
  handshakeTimeoutMs: number;
  /** Whether clients must show a certificate from the client CA (asked at each handshake). */
  mutual(): boolean;
  /** A client was not served: its handshake failed, timed out, or it left during it. */
  failed(peer: Peer, reason: string): void;
  /** An `ERROR <notice>` line in the server's framing. */
  noticeLine(notice: string): string;
}

export function tlsHandshakeStage({ handshakeTimeoutMs, mutual, failed, noticeLine }: TlsStageOptions): SocketStage {
  return {
    start(socket: Socket<SocketData>, peer, done) {
      let over = false;
      const fail = (reason: string, notice?: string) => {
        if (over) return;
        over = true;
        clearTimeout(deadline);
        failed(peer, reason);
        if (notice !== undefined) socket.write(noticeLine(notice));
        socket.end();
      };
      const deadline = setTimeout(() => fail(`no handshake within ${handshakeTimeoutMs / 1000} s`), handshakeTimeoutMs);
      return {
        // TLS gives the server no data before its handshake is done.
        data() {},
        handshake(success, authorizationError) {
          if (over) return;
          const required = mutual();
          const reason = handshakeFailure(socket, success, authorizationError, required);
          if (reason === undefined) {
            over = true;
            clearTimeout(deadline);
            const subject = required ? clientSubject(socket) : undefined;
            return done({ peer: subject === undefined ? peer : { ...peer, subject } });
          }
          if (!success) return fail(reason);
          // The handshake went through but the client's certificate did not (none, or not from the
          // client CA): the session is up, so the client is told why, in words.
          const notice = certificatePresented(socket)
            ? notices.clientCertificateRejected
            : notices.clientCertificateRequired;
          fail(reason, notice);
        },
        ended: () => fail("the client hung up during the handshake"),
        cancel(why) {
          if (why === "gone") return fail("the client hung up during the handshake");
          // The server is stopping: not the client's failure, nothing to log.
          over = true;
          clearTimeout(deadline);
        },
      };
    },
  };
}

// The HTTP/1.1 listener under the metrics endpoint: just enough of the protocol for a scraper, a
// balancer's health check, curl and nc. Written here rather than on Bun.serve because Bun.serve
// cannot cap its connections: a crowd of idle or half-sent requests to the metrics port took the
// file descriptors the message clients' limit keeps in reserve, and with none left the server
// spun and answered nobody. Here a connection past the cap gets a 503 and is closed at once, and
// every connection is bounded: its request head in size and time, a body it sends in size (and
// skipped), what waits for it to read.
//
// One request at a time per connection, answered in order (pipelined requests wait in the
// socket); keep-alive as HTTP/1.1 has it (`Connection: close` ends it after the response; so does
// any HTTP/1.0 request); a request with a chunked body is answered, then the connection closes
// (its body is not read).
import type { Socket, TCPSocketListener } from "bun";
import { Outbox } from "../../net/outbox.ts";

export interface HttpRequest {
  method: string;
  /** The request target's path, without its query: `/metrics` (an absolute-form target's too). */
  path: string;
}

export interface HttpResponse {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

export interface HttpListenerOptions {
  hostname: string;
  port: number;
  handle(request: HttpRequest): HttpResponse | Promise<HttpResponse>;
  /** Connections served at once; the next is answered 503 and closed. */
  maxConnections: number;
  /** How long a request head may take to arrive whole, and a kept-alive connection may stay idle. */
  requestTimeoutMs: number;
}

export interface HttpListener {
  readonly port: number;
  /** Stops listening and closes every connection. */
  stop(): void;
}

/** Connections served at once unless told otherwise (`--metrics-max-connections`). */
export const DEFAULT_MAX_HTTP_CONNECTIONS = 64;
/** The longest request head (request line and headers) read; a longer one is answered 431. */
export const MAX_REQUEST_HEAD_BYTES = 8 * 1024;
/** The longest request body skipped (nothing here takes one); a longer one is answered 413. */
export const MAX_REQUEST_BODY_BYTES = 64 * 1024;
/** Replies waiting for a client that does not read them, before its requests wait too. */
const MAX_QUEUED_RESPONSE_BYTES = 1024 * 1024;
/** How long a connection being closed may take to read its last response and hang up. */
const CLOSE_TIMEOUT_MS = 2000;

const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  413: "Content Too Large",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

const TOO_MANY = formatResponse({ status: 503, body: "too many connections" }, "GET", true);

interface Exchange {
  /** Input not yet parsed, as latin1 text (one character per byte). */
  input: string;
  /** Bytes of a request body still to skip. */
  bodyLeft: number;
  /** A response is being made (the handler is async). */
  busy: boolean;
  /** Responses wait for the client to read them: its next requests wait too. */
  blocked: boolean;
  /** The connection ends once the response in hand is sent. */
  closing: boolean;
  outbox: Outbox;
  timer: Timer | undefined;
  /** Counted among the connections served (not one answered 503). */
  counted: boolean;
  closed: boolean;
}

type HttpSocket = Socket<Exchange>;

export function listenHttp(options: HttpListenerOptions): HttpListener {
  let connections = 0;

  const armTimer = (socket: HttpSocket) => {
    // A connection being closed keeps the deadline its close set.
    if (socket.data.closing) return;
    clearTimeout(socket.data.timer);
    socket.data.timer = setTimeout(() => {
      const exchange = socket.data;
      // A scrape in progress has its own deadline (each worker's answer), and then its response.
      if (exchange.busy) return armTimer(socket);
      // Half a request head: say why. A kept-alive connection with nothing pending just closes.
      if (exchange.input.length > 0 && !exchange.blocked)
        reply(socket, { status: 408, body: "request timeout" }, "GET", true);
      else socket.end();
    }, options.requestTimeoutMs);
  };

  const reply = (socket: HttpSocket, response: HttpResponse, method: string, close: boolean) => {
    const exchange = socket.data;
    if (close && !exchange.closing) {
      exchange.closing = true;
      // Whatever it still owes and however slowly it reads, the connection ends by then.
      clearTimeout(exchange.timer);
      exchange.timer = setTimeout(() => socket.terminate(), CLOSE_TIMEOUT_MS);
    }
    exchange.outbox.send(formatResponse(response, method, exchange.closing));
    if (exchange.closing) {
      exchange.input = "";
      exchange.bodyLeft = 0;
      socket.resume();
      if (exchange.outbox.isEmpty) finishClosing(socket);
    }
  };

  /**
   * Our FIN once the last response is out; what the client still sends (the rest of a body) is
   * read and dropped until it hangs up. Closed with its input unread, the socket would be reset,
   * and a reset can destroy the response before the client has read it.
   */
  const finishClosing = (socket: HttpSocket) => socket.shutdown();

  /** Answers the requests in the input, one at a time, for as long as the client keeps up. */
  const serve = (socket: HttpSocket): void => {
    const exchange = socket.data;
    while (!exchange.busy && !exchange.blocked && !exchange.closing && exchange.bodyLeft === 0) {
      const end = headEnd(exchange.input);
      // Too long whole, or too long already without its end.
      if ((end?.headBytes ?? exchange.input.length) > MAX_REQUEST_HEAD_BYTES) {
        reply(socket, { status: 431, body: "request head too large" }, "GET", true);
        break;
      }
      if (end === undefined) break;
      const head = parseHead(exchange.input.slice(0, end.headBytes));
      exchange.input = exchange.input.slice(end.headBytes + end.separatorBytes);
      if ("status" in head) {
        reply(socket, head, "GET", true);
        break;
      }
      if (head.bodyBytes > MAX_REQUEST_BODY_BYTES) {
        reply(socket, { status: 413, body: "request body too large" }, head.method, true);
        break;
      }
      exchange.bodyLeft = head.bodyBytes;
      skipBody(exchange);
      const finish = (response: HttpResponse) => {
        exchange.busy = false;
        if (exchange.closed) return;
        reply(socket, response, head.method, !head.keepAlive);
        armTimer(socket);
        // A client that does not read its responses gets no more until it does.
        if (exchange.outbox.queuedBytes > MAX_QUEUED_RESPONSE_BYTES) exchange.blocked = true;
      };
      let made: HttpResponse | Promise<HttpResponse>;
      try {
        made = options.handle({ method: head.method, path: head.path });
      } catch (error) {
        made = { status: 500, body: (error as Error).message };
      }
      if (!(made instanceof Promise)) {
        finish(made);
        continue;
      }
      exchange.busy = true;
      void made
        .then(finish, (error: Error) => finish({ status: 500, body: error.message }))
        // The next request waits a turn of the event loop: on promises alone, a pipelined burst of
        // scrapes would render back to back and starve every other socket of the process.
        .then(() => setImmediate(() => exchange.closed || serve(socket)));
      break;
    }
    // Pipelined requests beyond what one head holds wait in the socket, not here.
    if (exchange.closed || exchange.closing) return;
    if (exchange.input.length > MAX_REQUEST_HEAD_BYTES || exchange.blocked) socket.pause();
    else socket.resume();
  };

  const listener: TCPSocketListener<Exchange> = Bun.listen<Exchange>({
    hostname: options.hostname,
    port: options.port,
    socket: {
      open(socket) {
        socket.data = {
          input: "",
          bodyLeft: 0,
          busy: false,
          blocked: false,
          closing: false,
          outbox: new Outbox(socket),
          timer: undefined,
          counted: false,
          closed: false,
        };
        if (connections >= options.maxConnections) {
          socket.data.closing = true;
          socket.data.outbox.send(TOO_MANY);
          socket.end();
          return;
        }
        connections++;
        socket.data.counted = true;
        armTimer(socket);
      },
      data(socket, chunk) {
        const exchange = socket.data;
        if (exchange.closing) return;
        exchange.input += chunk.toString("latin1");
        skipBody(exchange);
        serve(socket);
      },
      drain(socket) {
        const exchange = socket.data;
        if (!exchange.outbox.flush()) return;
        if (exchange.closing) {
          finishClosing(socket);
          return;
        }
        if (exchange.blocked) {
          exchange.blocked = false;
          serve(socket);
        }
      },
      close(socket) {
        const exchange = socket.data as Exchange | undefined;
        if (!exchange) return;
        exchange.closed = true;
        clearTimeout(exchange.timer);
        if (exchange.counted) connections--;
      },
      error() {
        // A reset from the client: its close follows.
      },
    },
  });
  return {
    port: listener.port,
    stop: () => listener.stop(true),
  };
}

/** Drops the part of a request body that has come, from the front of the input. */
function skipBody(exchange: Exchange): void {
  if (exchange.bodyLeft === 0 || exchange.input.length === 0) return;
  const skipped = Math.min(exchange.bodyLeft, exchange.input.length);
  exchange.input = exchange.input.slice(skipped);
  exchange.bodyLeft -= skipped;
}

/** Where the head ends: its length, and that of the empty line after it (CRLF CRLF, or bare LFs). */
function headEnd(input: string): { headBytes: number; separatorBytes: number } | undefined {
  const match = /\r?\n\r?\n/.exec(input);
  return match ? { headBytes: match.index, separatorBytes: match[0].length } : undefined;
}

interface RequestHead {
  method: string;
  path: string;
  keepAlive: boolean;
  bodyBytes: number;
}

const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/(\d)\.(\d)$/;

/** The request line and the headers this listener acts on, or the error response for a bad head. */
function parseHead(head: string): RequestHead | HttpResponse {
  const lines = head.split(/\r?\n/);
  const requestLine = REQUEST_LINE.exec(lines[0]!);
  if (!requestLine) return { status: 400, body: "bad request line" };
  const [, method, target, major, minor] = requestLine;
  if (major !== "1") return { status: 505, body: "HTTP/1.x only" };
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0 || /\s/.test(line[colon - 1]!)) return { status: 400, body: "bad header line" };
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    // Two lengths that disagree are how request smuggling starts: refuse, as RFC 9112 says.
    if (name === "content-length" && headers.has(name) && headers.get(name) !== value)
      return { status: 400, body: "conflicting content-length" };
    headers.set(name, value);
  }
  // HTTP/1.0 keep-alive would need its own response header: such clients get one response each.
  let keepAlive = minor !== "0" && !/\bclose\b/i.test(headers.get("connection") ?? "");
  let bodyBytes = 0;
  if (headers.has("transfer-encoding")) {
    // Its body is not read: the connection ends after this response.
    keepAlive = false;
  } else if (headers.has("content-length")) {
    const length = headers.get("content-length")!;
    if (!/^\d{1,15}$/.test(length)) return { status: 400, body: "bad content-length" };
    bodyBytes = Number(length);
  }
  return { method: method!, path: targetPath(target!), keepAlive, bodyBytes };
}

/** `/metrics?x=1` and `http://host:9100/metrics` are both `/metrics`; `*` and the like are no path (""). */
function targetPath(target: string): string {
  if (target.startsWith("/")) {
    const query = target.indexOf("?");
    return query === -1 ? target : target.slice(0, query);
  }
  return /^https?:\/\//i.test(target) ? (URL.parse(target)?.pathname ?? "") : "";
}

function formatResponse(response: HttpResponse, method: string, close: boolean): Buffer {
  const body = Buffer.from(response.body);
  const headers: Record<string, string> = {
    "content-type": "text/plain; charset=utf-8",
    ...response.headers,
    "content-length": String(body.length),
  };
  if (close) headers.connection = "close";
  let head = `HTTP/1.1 ${response.status} ${STATUS_TEXT[response.status] ?? "Unknown"}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  const headBytes = Buffer.from(`${head}\r\n`, "latin1");
  // HEAD gets the headers GET would, and no body.
  return method === "HEAD" ? headBytes : Buffer.concat([headBytes, body]);
}

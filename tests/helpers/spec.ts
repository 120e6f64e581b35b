// The spec's words on the wire, written out here rather than taken from src/protocol, so that a
// change to what users rely on fails the tests instead of changing them along with it.

/** The acknowledgement of one message (without its line ending). */
export const ack = (message: string) => `Message '${message}' received successfully`;

/** The acknowledgement as a line (line framing). */
export const ackLine = (message: string) => `${ack(message)}\n`;

export const SHUTDOWN_NOTICE_LINE = "ERROR server shutting down\n";

/** The interactive client's prompt, as the tutorial's input() shows it. */
export const PROMPT = "Enter message (or 'quit' to exit): ";

/** Characters a terminal acts on: C0 controls (a line's own LF aside), DEL, C1, bidi controls. */
export const TERMINAL_CONTROLS = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** What a message is, per the spec: UTF-8 with U+FFFD for bytes that are not (WHATWG decoding). */
export const decode = (bytes: Uint8Array) => new TextDecoder("utf-8").decode(bytes);

/** Reverses the server's terminal escaping (\\, \t, \n, \r, \xNN, \uNNNN), written independently. */
export function unescapeLogged(text: string): string {
  return text.replace(/\\(x[0-9a-f]{2}|u[0-9a-f]{4}|[\\tnr])/g, (_, code: string) => {
    if (code === "\\") return "\\";
    if (code === "t") return "\t";
    if (code === "n") return "\n";
    if (code === "r") return "\r";
    return String.fromCharCode(parseInt(code.slice(1), 16));
  });
}

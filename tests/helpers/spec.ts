// The spec's words on the wire, written out here rather than taken from src/protocol, so that a
// change to what users rely on fails the tests instead of changing them along with it.

/** The acknowledgement of one message (without its line ending). */
export const ack = (message: string) => `Message '${message}' received successfully`;

/** The acknowledgement as a line (line framing). */
export const ackLine = (message: string) => `${ack(message)}\n`;

export const SHUTDOWN_NOTICE_LINE = "ERROR server shutting down\n";

/** The interactive client's prompt, as the tutorial's input() shows it. */
export const PROMPT = "Enter message (or 'quit' to exit): ";

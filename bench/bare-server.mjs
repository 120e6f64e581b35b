// The floor of Bun's socket layer: a bare Bun.listen server that does the same work per read as
// socket-lab (cut lines, send one ack string per read) and nothing else: no framing limits, no
// backpressure, no partial-write handling, no events. bun bench/bare-server.mjs PORT
const port = Number(process.argv[2]);
Bun.listen({
  hostname: "127.0.0.1",
  port,
  socket: {
    open(socket) {
      socket.data = { rest: "" };
    },
    data(socket, chunk) {
      const lines = (socket.data.rest + chunk.toString()).split("\n");
      socket.data.rest = lines.pop();
      let replies = "";
      for (const line of lines) replies += `Message '${line}' received successfully\n`;
      if (replies !== "") socket.write(replies);
    },
  },
});
process.on("SIGTERM", () => process.exit(0));

// Reference server for `bun run bench`: socket-lab's line protocol on plain node:net, written the
// way a careful Node programmer would (no per-message logging, one write per read), so that the
// comparison is with Node at its idiomatic best. Run with the `node` on PATH:
//   node bench/node-server.mjs [port]      prints "listening <port>" once ready.
import { createServer } from "node:net";

const server = createServer({ allowHalfOpen: true }, (socket) => {
  socket.setEncoding("utf8");
  let pending = "";
  socket.on("data", (chunk) => {
    const text = pending + chunk;
    let replies = "";
    let start = 0;
    for (let lf = text.indexOf("\n"); lf !== -1; lf = text.indexOf("\n", start)) {
      const end = lf > start && text.charCodeAt(lf - 1) === 13 ? lf - 1 : lf;
      replies += `Message '${text.slice(start, end)}' received successfully\n`;
      start = lf + 1;
    }
    pending = text.slice(start);
    if (replies !== "") socket.write(replies);
  });
  socket.on("end", () => {
    if (pending !== "") socket.write(`Message '${pending}' received successfully\n`);
    socket.end();
  });
  socket.on("error", () => {});
});

server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
process.on("SIGTERM", () => process.exit(0));

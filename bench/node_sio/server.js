// The Node socket.io reference server for bench/: rooms fanned out through Redis.
//
// Usage: `node bench/node_sio/server.js PORT REDIS_URL`. The same contract as
// bench/sio_server.py, so the same load client drives both: a client connects with
// `?room=N&token=loadtest` and is put in room `N` (`room=-1`: in none); the event `send`
// with `{"room": N, "text": ...}` is emitted as `message` `{"text": ...}` to that room on
// every server through the Redis adapter, and acknowledged with `{"ok": true}`. A wrong
// token is refused at connect (a CONNECT_ERROR packet, as python-socketio sends).
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

const [port, redisUrl] = [Number(process.argv[2]), process.argv[3]];
if (!port || !redisUrl) {
  console.error("usage: node server.js PORT REDIS_URL");
  process.exit(2);
}

async function main() {
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  for (const client of [pub, sub]) {
    client.on("error", (err) => console.error("redis:", err.message));
  }
  await Promise.all([pub.connect(), sub.connect()]);

  // Every other path is a 404: bench/run.py's readiness probe, kept off Engine.IO.
  const server = http.createServer((req, res) => res.writeHead(404).end());
  const io = new Server(server, {
    adapter: createAdapter(pub, sub),
    cors: { origin: "*" },
    transports: ["websocket"],
    perMessageDeflate: false,
  });

  io.use((socket, next) => {
    if (socket.handshake.query.token !== "loadtest") {
      next(new Error("unauthorized"));
      return;
    }
    next();
  });

  io.on("connection", (socket) => {
    // Joined in the same tick as the CONNECT reply, before any packet of the client is read.
    const room = socket.handshake.query.room ?? "-1";
    if (room !== "-1") socket.join(`room:${room}`);
    socket.on("send", (data, ack) => {
      io.to(`room:${data.room}`).emit("message", { text: data.text });
      if (typeof ack === "function") ack({ ok: true });
    });
  });

  // bench/run.py ends this process by its pid with SIGTERM: close the sockets and Redis.
  process.on("SIGTERM", () => {
    io.close();
    Promise.allSettled([pub.quit(), sub.quit()]).then(() => process.exit(0));
  });

  server.listen(port, "127.0.0.1");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

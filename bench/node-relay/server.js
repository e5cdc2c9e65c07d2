// Minimal socket.io v4 relay: the yardstick ChatBox's benchmark compares against.
// Verifies the HS256 JWT (same secret and `sub` claim as ChatBox), joins the user's room, and relays
// `new-message` {to, text, clientMessageId} to the receiver's room with an ack. No database.
"use strict";

const http = require("http");
const crypto = require("crypto");
const jwt = require("jsonwebtoken");
const { Server } = require("socket.io");

const port = Number(process.env.PORT || 3100);
const host = process.env.HOST || "127.0.0.1";
const secret = process.env.JWT_SECRET;
if (!secret) {
  console.error("JWT_SECRET is required");
  process.exit(2);
}

const httpServer = http.createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ status: "ok", rss: process.memoryUsage().rss }));
    return;
  }
  res.writeHead(404);
  res.end();
});

const io = new Server(httpServer, { transports: ["websocket", "polling"], serveClient: false });

io.use((socket, next) => {
  const token = socket.handshake.auth && socket.handshake.auth.token;
  try {
    const claims = jwt.verify(token, secret, { algorithms: ["HS256"] });
    socket.data.userId = String(claims.sub);
    next();
  } catch (err) {
    next(new Error("Unauthorized"));
  }
});

io.on("connection", (socket) => {
  const userId = socket.data.userId;
  socket.join(`user:${userId}`);
  socket.on("new-message", (data, ack) => {
    const reply = typeof ack === "function" ? ack : () => {};
    if (!data || typeof data.to !== "string" || typeof data.text !== "string") {
      reply({ ok: false, message: "The event payload is not valid.", code: "validation_error" });
      return;
    }
    const now = new Date().toISOString();
    const message = {
      _id: crypto.randomBytes(12).toString("hex"),
      chatId: null,
      senderId: userId,
      receiverId: data.to,
      text: data.text,
      clientMessageId: data.clientMessageId || null,
      status: "sent",
      createdAt: now,
      updatedAt: now,
    };
    io.to(`user:${data.to}`).emit("new-message", message);
    socket.to(`user:${userId}`).emit("new-message", message);
    reply({ ok: true, message });
  });
});

httpServer.listen(port, host, () => {
  console.log(`node relay listening on http://${host}:${port}`);
});

process.on("SIGTERM", () => {
  io.close();
  httpServer.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});

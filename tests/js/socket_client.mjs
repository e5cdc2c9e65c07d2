// Drives ChatBox with the official socket.io-client v4: prints one JSON object with what happened.
// Usage: node socket_client.mjs <baseUrl> <aliceToken> <aliceId> <bobToken> <bobId>
import { io } from "socket.io-client";

const [baseUrl, aliceToken, aliceId, bobToken, bobId] = process.argv.slice(2);
const WAIT_MS = 15000;
const result = {
  refused: null,
  ack: null,
  received: null,
  typing: null,
  readAck: null,
  read: null,
  transports: null,
};

function waitFor(socket, event) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${WAIT_MS} ms`)), WAIT_MS);
    socket.once(event, (data) => {
      clearTimeout(timer);
      resolve(data);
    });
  });
}

function connect(token) {
  const socket = io(baseUrl, { auth: token ? { token } : undefined, reconnection: false });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => reject(err));
  });
}

function transportAfterUpgrade(socket) {
  const engine = socket.io.engine;
  if (engine.transport.name === "websocket") return Promise.resolve("websocket");
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(engine.transport.name), WAIT_MS);
    engine.once("upgrade", (transport) => {
      clearTimeout(timer);
      resolve(transport.name);
    });
  });
}

async function main() {
  try {
    await connect("not-a-token");
  } catch (err) {
    result.refused = err.message;
  }
  const alice = await connect(aliceToken);
  const bob = await connect(bobToken);

  const incoming = waitFor(bob, "new-message");
  result.ack = await alice.timeout(WAIT_MS).emitWithAck("new-message", { to: bobId, text: "hello from node" });
  result.received = await incoming;

  const typing = waitFor(alice, "typing");
  await bob.timeout(WAIT_MS).emitWithAck("typing", { to: aliceId });
  result.typing = await typing;

  const read = waitFor(alice, "messages-read");
  result.readAck = await bob.timeout(WAIT_MS).emitWithAck("message-read", { messageId: result.received._id });
  result.read = await read;

  // The client's default: HTTP long-polling first, then an upgrade to a websocket.
  result.transports = [await transportAfterUpgrade(alice), await transportAfterUpgrade(bob)];
  alice.close();
  bob.close();
  console.log(JSON.stringify(result));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

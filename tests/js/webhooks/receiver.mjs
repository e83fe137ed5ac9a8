// A receiver of collab's webhooks that verifies every delivery: the Node example of
// docs/integration.md, run by tests/integration/test_webhooks.py.
//   WEBHOOK_SECRET=whsec_… node receiver.mjs PORT
// It answers 2xx only for a delivery whose signature verifies, and handles each webhook-id once
// (a retry or a replay carries the same id). Each delivery is reported on stdout as a JSON line.
import http from "node:http";
import { Webhook } from "standardwebhooks";

const webhook = new Webhook(process.env.WEBHOOK_SECRET);
const seen = new Set(); // a real receiver keeps these in its database, with what it did

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8"); // verify the body exactly as received
    let event;
    try {
      event = webhook.verify(body, req.headers); // checks the signature and a 5-minute timestamp window
    } catch (err) {
      console.log(JSON.stringify({ error: err.message }));
      res.writeHead(400).end();
      return;
    }
    const id = req.headers["webhook-id"];
    const duplicate = seen.has(id);
    if (!duplicate) {
      seen.add(id);
      // … record event.data here: e.g. for attendance.finalized, each teacher's minutes and credit
    }
    console.log(JSON.stringify({ id, type: event.type, duplicate, data: event.data }));
    res.writeHead(204).end(); // answer fast; do slow work after answering
  });
});

server.listen(Number(process.argv[2]), "127.0.0.1", () => console.log(JSON.stringify({ listening: true })));

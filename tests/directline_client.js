// The official Direct Line client (npm botframework-directlinejs, what Web Chat runs on), driven by
// tests/test_directline_client.py. Usage: node directline_client.js <base URL> [websocket|poll]
// Each stdin line is a JSON command ({"post": text, "id": clientActivityID} or {"end": true});
// everything the client sees is printed as a JSON line: its connection status, each activity
// with the watermark it came with, and each post's result.
global.XMLHttpRequest = require("xhr2");
global.WebSocket = require("ws");
const readline = require("readline");
const { DirectLine, ConnectionStatus } = require("botframework-directlinejs");

const base = process.argv[2];
const mode = process.argv[3] || "websocket";
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

(async () => {
  const made = await fetch(`${base}/v3/directline/tokens/generate`, { method: "POST" });
  const { token } = await made.json();
  const line = new DirectLine({
    token,
    domain: `${base}/v3/directline`,
    webSocket: mode === "websocket",
    pollingInterval: 300,
  });
  line.connectionStatus$.subscribe((s) => out({ status: ConnectionStatus[s] }));
  line.activity$.subscribe((a) => out({ activity: a, watermark: line.watermark }));
  readline.createInterface({ input: process.stdin }).on("line", (text) => {
    const command = JSON.parse(text);
    if (command.end) {
      line.end();
      process.exit(0);
    }
    line
      .postActivity({
        type: "message",
        from: { id: "someone-else", role: "user" },
        text: command.post,
        channelData: { clientActivityID: command.id },
      })
      .subscribe(
        (id) => out({ posted: id, clientId: command.id }),
        (error) => out({ postFailed: command.id, status: error && error.status })
      );
  });
})();

// Runs statements on chdb (ClickHouse in-process) for Go tests: one JSON
// request per stdin line, {"sql": ..., "format": ...}; one JSON reply per
// stdout line, {"out": ...} or {"err": ...}. argv: chdb module dir, data dir.
"use strict";
const readline = require("readline");
const { Session } = require(process.argv[2]);
const session = new Session(process.argv[3]);
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on("line", (line) => {
  let reply;
  try {
    const req = JSON.parse(line);
    reply = { out: session.query(req.sql, req.format || "TabSeparated") };
  } catch (e) {
    reply = { err: String(e && e.message ? e.message : e) };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
});
rl.on("close", () => {
  session.cleanup();
});

// An OPC UA server with one alarm (Alarms & Conditions) for the event
// tests, built on node-opcua. Usage: node node-opcua-alarms.js PORT
// It prints "READY" once it listens on 127.0.0.1:PORT, then reads one
// command a line on stdin and prints "DONE <command>" after it:
// raise (the OffNormalAlarm Plant/Tank2/LevelSwitch becomes active),
// ack (the active branch is acknowledged), clear (inactive again).
"use strict";
const readline = require("readline");
const { OPCUAServer, DataType, Variant, StatusCodes } = require("node-opcua");

const port = parseInt(process.argv[2], 10);

async function main() {
  const server = new OPCUAServer({ port, host: "127.0.0.1", allowAnonymous: true,
    buildInfo: { productName: "lifeline alarm test server" } });
  await server.initialize();
  const addressSpace = server.engine.addressSpace;
  // Binds ConditionRefresh and the Acknowledge methods: without it node-opcua
  // answers ConditionRefresh with BadInternalError ("has not been bound").
  addressSpace.installAlarmsAndConditionsService();
  const ns = addressSpace.registerNamespace("urn:test:node-opcua");
  const tank = ns.addObject({
    organizedBy: addressSpace.rootFolder.objects, browseName: "Tank2", nodeId: "s=Plant.Tank2",
    eventSourceOf: addressSpace.rootFolder.objects.server, eventNotifier: 1,
  });
  let high = false;
  const input = ns.addVariable({
    componentOf: tank, browseName: "LevelSwitch", nodeId: "s=Plant.Tank2.LevelSwitch", dataType: "Boolean",
  });
  input.setValueFromSource(new Variant({ dataType: DataType.Boolean, value: high }), StatusCodes.Good);
  const normal = ns.addVariable({
    componentOf: tank, browseName: "LevelSwitchNormal", nodeId: "s=Plant.Tank2.LevelSwitchNormal", dataType: "Boolean",
  });
  normal.setValueFromSource(new Variant({ dataType: DataType.Boolean, value: false }), StatusCodes.Good);
  const alarm = ns.instantiateOffNormalAlarm({
    browseName: "LSH201", nodeId: "s=Plant.Tank2.LSH201", componentOf: tank,
    conditionSource: tank, inputNode: input, normalState: normal, conditionName: "LSH201",
  });
  await server.start();
  process.stdout.write("READY\n");
  const rl = readline.createInterface({ input: process.stdin });
  rl.on("line", (cmd) => {
    cmd = cmd.trim();
    if (cmd === "raise" || cmd === "clear") {
      high = cmd === "raise";
      input.setValueFromSource(new Variant({ dataType: DataType.Boolean, value: high }), StatusCodes.Good);
    } else if (cmd === "ack") {
      alarm.acknowledgeAndAutoConfirmBranch(alarm.currentBranch(), "acknowledged by the test");
    }
    process.stdout.write("DONE " + cmd + "\n");
  });
  const stop = async () => { await server.shutdown(100); process.exit(0); };
  process.on("SIGTERM", stop);
  rl.on("close", stop);
}

main().catch((err) => { console.error(err); process.exit(1); });

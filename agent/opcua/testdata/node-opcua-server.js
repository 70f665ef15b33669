// An independent OPC UA server for the interoperability tests, built on
// node-opcua. Usage: node node-opcua-server.js PORT PKI_DIR
// It prints "READY <certificate file>" once it listens on 127.0.0.1:PORT.
// Users: operator / s3cret. Namespace urn:test:node-opcua holds
// Plant/Tank1 with Level (AnalogItem, m, EURange 0..20, changing every
// 100 ms), Name (Chinese text), HighAlarm (Boolean), and Plant/Broken
// (always BadSensorFailure), and Plant/Counter (Double, counting up by one
// every 200 ms with its source timestamp) and Plant/Steady (Double, never
// changing). With LIFELINE_HISTORY=1 in the environment, Counter and
// Steady keep their history (HistoryRead, raw) and the server says it
// does (AccessHistoryDataCapability); without, the server keeps none.
// With LIFELINE_MAX_NODES_PER_READ=N the server states MaxNodesPerRead N
// and refuses larger Read requests (BadTooManyOperations).
"use strict";
const path = require("path");
const {
  OPCUAServer, OPCUACertificateManager, SecurityPolicy, MessageSecurityMode,
  DataType, Variant, DataValue, StatusCodes, standardUnits,
} = require("node-opcua");

const port = parseInt(process.argv[2], 10);
const pkiRoot = process.argv[3];

async function main() {
  const serverCertificateManager = new OPCUACertificateManager({
    rootFolder: pkiRoot,
    automaticallyAcceptUnknownCertificate: false,
  });
  await serverCertificateManager.initialize();
  const server = new OPCUAServer({
    port,
    host: "127.0.0.1", // listen on loopback only; endpoint URLs still name the machine's hostname
    serverCertificateManager,
    certificateFile: path.join(pkiRoot, "own", "certs", "server_certificate.pem"),
    privateKeyFile: path.join(pkiRoot, "own", "private", "private_key.pem"),
    securityPolicies: [SecurityPolicy.None, SecurityPolicy.Basic256Sha256, SecurityPolicy.Aes128_Sha256_RsaOaep],
    securityModes: [MessageSecurityMode.None, MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt],
    allowAnonymous: true,
    userManager: { isValidUser: (user, pass) => user === "operator" && pass === "s3cret" },
    buildInfo: { productName: "lifeline interop test server" },
  });
  await server.initialize();
  const maxNodesPerRead = parseInt(process.env.LIFELINE_MAX_NODES_PER_READ || "0", 10);
  if (maxNodesPerRead > 0) {
    server.engine.serverCapabilities.operationLimits.maxNodesPerRead = maxNodesPerRead;
  }
  const addressSpace = server.engine.addressSpace;
  const ns = addressSpace.registerNamespace("urn:test:node-opcua");
  const plant = ns.addObject({ organizedBy: addressSpace.rootFolder.objects, browseName: "Plant", nodeId: "s=Plant" });
  const tank = ns.addObject({ componentOf: plant, browseName: "Tank1", nodeId: "s=Plant.Tank1" });
  let level = 5;
  const levelNode = ns.addAnalogDataItem({
    componentOf: tank, browseName: "Level", nodeId: "s=Plant.Tank1.Level",
    dataType: "Double", engineeringUnitsRange: { low: 0, high: 20 }, engineeringUnits: standardUnits.metre,
    minimumSamplingInterval: 50,
    value: { get: () => new Variant({ dataType: DataType.Double, value: level }) },
  });
  ns.addVariable({
    componentOf: tank, browseName: "Name", nodeId: "s=Plant.Tank1.Name", dataType: "String",
    value: { get: () => new Variant({ dataType: DataType.String, value: "1号甲醇储罐" }) },
  });
  ns.addVariable({
    componentOf: tank, browseName: "HighAlarm", nodeId: "s=Plant.Tank1.HighAlarm", dataType: "Boolean",
    value: { get: () => new Variant({ dataType: DataType.Boolean, value: level > 15 }) },
  });
  ns.addVariable({
    componentOf: plant, browseName: "Broken", nodeId: "s=Plant.Broken", dataType: "Double",
    value: { timestamped_get: () => new DataValue({ statusCode: StatusCodes.BadSensorFailure, sourceTimestamp: new Date() }) },
  });
  const historized = process.env.LIFELINE_HISTORY === "1";
  let count = 0;
  const counterNode = ns.addVariable({
    componentOf: plant, browseName: "Counter", nodeId: "s=Plant.Counter", dataType: "Double",
    minimumSamplingInterval: 50,
  });
  counterNode.setValueFromSource(new Variant({ dataType: DataType.Double, value: count }), StatusCodes.Good, new Date());
  const steadyNode = ns.addVariable({
    componentOf: plant, browseName: "Steady", nodeId: "s=Plant.Steady", dataType: "Double",
  });
  if (historized) {
    addressSpace.installHistoricalDataNode(counterNode, { maxOnlineValues: 100000 });
    addressSpace.installHistoricalDataNode(steadyNode, { maxOnlineValues: 100000 });
    // OPCUAServer does not pass historyServerCapabilities on to its engine.
    server.engine.historyServerCapabilities.accessHistoryDataCapability = true;
  }
  steadyNode.setValueFromSource(new Variant({ dataType: DataType.Double, value: 42 }), StatusCodes.Good, new Date());
  setInterval(() => {
    count++;
    counterNode.setValueFromSource(new Variant({ dataType: DataType.Double, value: count }), StatusCodes.Good, new Date());
  }, 200); // slow enough that a busy machine's late sampling timer misses none live
  let n = 0;
  setInterval(() => {
    n++;
    level = 5 + (n % 100) / 10;
    levelNode.setValueFromSource(new Variant({ dataType: DataType.Double, value: level }), StatusCodes.Good, new Date());
  }, 100);
  await server.start();
  process.stdout.write("READY " + server.certificateFile + "\n");
  const stop = async () => { await server.shutdown(100); process.exit(0); };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.stdin.on("end", stop); // the test's pipe closed: the test is gone
  process.stdin.resume();
}

main().catch((err) => { console.error(err); process.exit(1); });

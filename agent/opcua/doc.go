// Package opcua reads the agent's points from one OPC UA server: it connects,
// resolves node IDs by namespace URI, subscribes, and turns every notification into a sample.
package opcua

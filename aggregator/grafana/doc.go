// Package grafana provisions Lifeline's Grafana through its HTTP API: the
// ClickHouse data source, one folder and one team per park (the team may
// view its park's folder and nothing else), and the dashboards built by the
// dashboards package. Provisioning is idempotent: a second run changes
// nothing. It only touches what it owns: dashboards tagged
// lifeline-managed, folders and the data source with its own UIDs.
//
// WriteFiles writes the same state as files for Grafana's file provisioning.
package grafana

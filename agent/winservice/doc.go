// Package winservice runs the agent as a Windows service under the service
// control manager and registers it there; all but its names build on Windows only.
package winservice

// The service as the SCM and the MSI (packaging/windows) know it.
const (
	Name        = "LifelineAgent"
	DisplayName = "Lifeline Agent" // ASCII: the MSI's tables are in code page 1252
	Description = "Reads plant safety telemetry over OPC UA, keeps every sample on disk and forwards it to the Lifeline aggregator. 采集工厂安全监测数据（OPC UA），落盘缓存后上传汇聚服务器。"
)

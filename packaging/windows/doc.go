// Package windows holds the Windows agent's installer (lifeline-agent.wxs,
// built by build-msi.sh) and tests the MSI's tables and the binary under Wine.
package windows

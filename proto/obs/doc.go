// Package obs holds what both binaries need to be observed: the slog logger
// built from the log section and the Prometheus/pprof HTTP server.
package obs

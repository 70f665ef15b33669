//go:build !windows

package config

// DefaultPaths are the agent's paths on Linux and other Unix systems.
func DefaultPaths() Paths { return unixPaths() }

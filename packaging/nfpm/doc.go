// Package nfpm holds the .deb/.rpm definitions `make package` builds with
// nfpm; its test installs, upgrades, removes and purges the built packages.
package nfpm

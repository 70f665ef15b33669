// Package e2e tests Lifeline whole: the plant simulator, an agent, an
// aggregator and a real ClickHouse, checking every sample arrives once.
package e2e

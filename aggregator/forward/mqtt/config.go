// Package mqtt publishes forwarded payloads to a provincial platform's MQTT broker
// (3.1.1 or 5) with QoS 1, returning from Send only once the broker has acknowledged.
package mqtt

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Config is one MQTT target's connection. Defaults come from DefaultConfig.
type Config struct {
	// Broker is the server's URL: mqtt:// or tcp:// for plain TCP, mqtts://,
	// ssl:// or tls:// for TLS.
	Broker string `yaml:"broker"`
	// Version is the protocol: 3 (3.1.1) or 5.
	Version  int    `yaml:"version"`
	ClientID string `yaml:"client_id"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	TLS      TLS    `yaml:"tls"`

	KeepAlive      time.Duration `yaml:"keep_alive"`
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// AckTimeout bounds the wait for one PUBACK; when it passes the message
	// is published again (3.1.1 first drops the connection, MQTT 5 keeps it:
	// its keep-alive finds a dead broker).
	AckTimeout time.Duration `yaml:"ack_timeout"`
	// SessionExpiry is how long the broker keeps the session (MQTT 5) after
	// the connection is lost, so in-flight messages are resent into it.
	SessionExpiry time.Duration `yaml:"session_expiry"`
	// MaxInflight bounds the Sends waiting for their PUBACK at once.
	MaxInflight int `yaml:"max_inflight"`
	// MaxPacketSize, when not 0, is the largest PUBLISH packet the province's
	// broker takes. A larger message is refused by Send instead of sent: a
	// broker drops the connection on one, and a resend would drop it again.
	// MQTT 5 also keeps to the limit the broker announces.
	MaxPacketSize int           `yaml:"max_packet_size"`
	ReconnectMin  time.Duration `yaml:"reconnect_min"`
	ReconnectMax  time.Duration `yaml:"reconnect_max"`
}

// TLS names the files of a TLS connection. CA empty: the system's roots.
type TLS struct {
	CA         string `yaml:"ca"`
	Cert       string `yaml:"cert"`
	Key        string `yaml:"key"`
	ServerName string `yaml:"server_name"`
}

// DefaultConfig returns the settings a target starts from.
func DefaultConfig() Config {
	return Config{
		Version:        5,
		KeepAlive:      30 * time.Second,
		ConnectTimeout: 10 * time.Second,
		AckTimeout:     30 * time.Second,
		SessionExpiry:  time.Hour,
		MaxInflight:    64,
		ReconnectMin:   500 * time.Millisecond,
		ReconnectMax:   30 * time.Second,
	}
}

// Validate checks the configuration without changing it or reading files.
func (c Config) Validate() error {
	u, err := url.Parse(c.Broker)
	if err != nil || u.Host == "" {
		return fmt.Errorf("mqtt broker %q: want a URL such as mqtts://host:8883", c.Broker)
	}
	tlsScheme := false
	switch strings.ToLower(u.Scheme) {
	case "mqtt", "tcp":
	case "mqtts", "ssl", "tls":
		tlsScheme = true
	default:
		return fmt.Errorf("mqtt broker %q: scheme %q, want mqtt, tcp, mqtts, ssl or tls", c.Broker, u.Scheme)
	}
	if c.Version != 3 && c.Version != 5 {
		return fmt.Errorf("mqtt version %d: want 3 (3.1.1) or 5", c.Version)
	}
	// A persistent session is keyed by the client ID, so the broker must be
	// able to recognise us after a reconnect.
	if c.ClientID == "" {
		return errors.New("mqtt client_id is required (the session that keeps in-flight messages is keyed by it)")
	}
	if len(c.ClientID) > 65535 {
		return errors.New("mqtt client_id is too long")
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		return errors.New("mqtt tls: cert and key go together")
	}
	if !tlsScheme && (c.TLS != TLS{}) {
		return fmt.Errorf("mqtt tls is set but broker %q is not a TLS URL (mqtts://)", c.Broker)
	}
	if c.Password != "" && c.Username == "" && c.Version == 3 {
		return errors.New("mqtt 3.1.1 sends a password only with a username")
	}
	for name, d := range map[string]time.Duration{
		"keep_alive": c.KeepAlive, "connect_timeout": c.ConnectTimeout, "ack_timeout": c.AckTimeout,
		"reconnect_min": c.ReconnectMin, "reconnect_max": c.ReconnectMax,
	} {
		if d <= 0 {
			return fmt.Errorf("mqtt %s %v: must be positive", name, d)
		}
	}
	if c.KeepAlive < time.Second || c.KeepAlive > 65535*time.Second {
		return fmt.Errorf("mqtt keep_alive %v: want 1s to 65535s", c.KeepAlive)
	}
	if c.SessionExpiry < 0 || c.SessionExpiry > 0xFFFFFFFF*time.Second {
		return fmt.Errorf("mqtt session_expiry %v: want 0 to 4294967295s", c.SessionExpiry)
	}
	if c.ReconnectMax < c.ReconnectMin {
		return fmt.Errorf("mqtt reconnect_max %v is below reconnect_min %v", c.ReconnectMax, c.ReconnectMin)
	}
	if c.MaxPacketSize < 0 || c.MaxPacketSize > maxPacket {
		return fmt.Errorf("mqtt max_packet_size %d: want 0 (no limit) to %d", c.MaxPacketSize, maxPacket)
	}
	if c.MaxInflight < 1 || c.MaxInflight > 65535 {
		return fmt.Errorf("mqtt max_inflight %d: want 1 to 65535", c.MaxInflight)
	}
	return nil
}

// ValidTopic refuses a topic a PUBLISH may not carry.
func ValidTopic(topic string) error {
	switch {
	case topic == "":
		return errors.New("empty topic")
	case strings.ContainsAny(topic, "+#\x00"):
		return fmt.Errorf("topic %q: wildcards and NUL are not allowed in a published topic", topic)
	case len(topic) > 65535:
		return errors.New("topic longer than 65535 bytes")
	}
	return nil
}

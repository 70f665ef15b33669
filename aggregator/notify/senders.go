package notify

import (
	"crypto/tls"
	"net/http"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/notify/channel"
)

// NewSenders builds a sender per configured recipient. tlsConfig, when
// not nil, replaces the default TLS settings of HTTPS and SMTP (tests
// trust their own CA with it). It does no I/O.
func NewSenders(cfg Config, tlsConfig *tls.Config) map[string]Sender {
	client := &http.Client{Timeout: 15 * time.Second}
	if tlsConfig != nil {
		client.Transport = &http.Transport{TLSClientConfig: tlsConfig}
	}
	smtp := MailServer(cfg, tlsConfig)
	out := make(map[string]Sender, len(cfg.Recipients))
	for name, r := range cfg.Recipients {
		switch r.Type {
		case TypeWebhook:
			out[name] = &channel.Webhook{URL: r.URL, Client: client}
		case TypeDingTalk:
			out[name] = &channel.DingTalk{URL: r.URL, Secret: r.Secret, Format: r.Format, Client: client}
		case TypeWeCom:
			out[name] = &channel.WeCom{URL: r.URL, Format: r.Format, Client: client}
		case TypeFeishu:
			out[name] = &channel.Feishu{URL: r.URL, Secret: r.Secret, Format: r.Format, Client: client}
		case TypeEmail:
			out[name] = &channel.Mail{Server: smtp, To: r.To}
		}
	}
	return out
}

// MailServer is the configured SMTP server (notify.smtp), which the daily
// report is mailed through as well. It does no I/O.
func MailServer(cfg Config, tlsConfig *tls.Config) *channel.SMTP {
	return &channel.SMTP{Addr: cfg.SMTP.Addr, TLS: cfg.SMTP.TLS, Username: cfg.SMTP.Username, Password: cfg.SMTP.Password,
		From: cfg.SMTP.From, Timeout: cfg.SMTP.Timeout, TLSConfig: tlsConfig}
}

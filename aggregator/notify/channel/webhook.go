package channel

import (
	"context"
	"net/http"
)

// Webhook posts a JSON document to a URL:
//
//	{"id": "...", "subject": "...", "text": "...", "data": {...}}
//
// Receivers dedupe on "id".
type Webhook struct {
	URL    string
	Client *http.Client
}

// WebhookPayload is the generic webhook's JSON document.
type WebhookPayload struct {
	ID      string `json:"id"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	Data    any    `json:"data,omitempty"`
}

// Send posts m.
func (w *Webhook) Send(ctx context.Context, m Message) error {
	_, err := postJSON(ctx, w.Client, w.URL, WebhookPayload{ID: m.ID, Subject: m.Subject, Text: m.Text, Data: m.Data})
	return err
}

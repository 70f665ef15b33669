package mqtttest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	paho3 "github.com/eclipse/paho.mqtt.golang"
)

// Message is one received publication.
type Message struct {
	Topic   string
	Payload []byte
}

// Subscriber receives a topic filter with QoS 1 on a persistent session, so
// messages published while it or the broker is down arrive after.
type Subscriber struct {
	client paho3.Client

	mu   sync.Mutex
	msgs []Message
	more chan struct{} // closed and replaced on every message
}

// Subscribe connects a subscriber to the broker's plain listener and waits
// for the subscription; it disconnects when the test ends.
func Subscribe(t testing.TB, b *Broker, clientID, filter string) *Subscriber {
	t.Helper()
	s := &Subscriber{more: make(chan struct{})}
	handle := func(_ paho3.Client, m paho3.Message) {
		s.mu.Lock()
		s.msgs = append(s.msgs, Message{Topic: m.Topic(), Payload: append([]byte(nil), m.Payload()...)})
		close(s.more)
		s.more = make(chan struct{})
		s.mu.Unlock()
	}
	o := paho3.NewClientOptions().
		AddBroker(fmt.Sprintf("tcp://127.0.0.1:%d", b.Port)).
		SetClientID(clientID).
		SetCleanSession(false).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(250 * time.Millisecond).
		SetConnectTimeout(5 * time.Second).
		SetDefaultPublishHandler(handle).
		SetOnConnectHandler(func(c paho3.Client) {
			// Subscribing again on every connection is harmless and covers a
			// broker that lost the session.
			c.Subscribe(filter, 1, handle)
		})
	if b.auth {
		o.SetUsername(SubscriberUser).SetPassword(SubscriberPassword)
	}
	s.client = paho3.NewClient(o)
	if tok := s.client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	if tok := s.client.Subscribe(filter, 1, handle); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	t.Cleanup(func() { s.client.Disconnect(100) })
	return s
}

// Messages returns what has arrived so far, in arrival order.
func (s *Subscriber) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// WaitFor waits until done reports true of the messages so far, or the
// timeout passes; it returns the messages either way.
func (s *Subscriber) WaitFor(timeout time.Duration, done func([]Message) bool) ([]Message, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		msgs, more := append([]Message(nil), s.msgs...), s.more
		s.mu.Unlock()
		if done(msgs) {
			return msgs, true
		}
		select {
		case <-more:
		case <-deadline.C:
			return msgs, false
		}
	}
}

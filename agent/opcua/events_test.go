package opcua

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// alarmServer is testdata/node-opcua-alarms.js, driven by commands.
type alarmServer struct {
	endpoint string
	stdin    io.Writer
	done     chan string
}

// do sends a command (raise, ack, clear, kill) and waits for its DONE.
func (s *alarmServer) do(t *testing.T, cmd string) {
	t.Helper()
	if _, err := fmt.Fprintln(s.stdin, cmd); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-s.done:
		if got != cmd {
			t.Fatalf("server did %q, want %q", got, cmd)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("server did not do %q", cmd)
	}
}

func startAlarmServer(t *testing.T) *alarmServer {
	t.Helper()
	modules := needNodeOPCUA(t)
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "node", filepath.Join("testdata", "node-opcua-alarms.js"), strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &alarmServer{endpoint: "opc.tcp://127.0.0.1:" + strconv.Itoa(port), stdin: stdin, done: make(chan string, 16)}
	ready, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "READY" {
				close(ready)
			} else if c, ok := strings.CutPrefix(sc.Text(), "DONE "); ok {
				s.done <- c
			}
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		cancel()
		cmd.Wait()
		<-exited
	})
	select {
	case <-ready:
		return s
	case <-exited:
		t.Fatalf("node-opcua alarm server exited before it was ready:\n%s", stderr.String())
	case <-time.After(3 * time.Minute): // 17 s at load average 34 on 2 cores, over a minute at 40
		t.Fatalf("node-opcua alarm server not ready after 3 minutes:\n%s", stderr.String())
	}
	return nil
}

// eventSink keeps the condition events; samples are dropped.
type eventSink struct {
	mu     sync.Mutex
	events []*lifelinev1.ConditionEvent
}

func (s *eventSink) Write([]*lifelinev1.Sample) {}

func (s *eventSink) RecordConditionEvent(e *lifelinev1.ConditionEvent) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
}

// waitFor waits until an event matching ok has arrived since from and
// returns it.
func (s *eventSink) waitFor(t *testing.T, from int, what string, ok func(*lifelinev1.ConditionEvent) bool) *lifelinev1.ConditionEvent {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		for _, e := range s.events[min(from, len(s.events)):] {
			if ok(e) {
				s.mu.Unlock()
				return e
			}
		}
		s.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	for _, e := range s.all() {
		t.Logf("%s active=%v acked=%v refresh=%v retain=%v id=%x", e.EventType, e.Active, e.Acked, e.Refresh, e.Retain, e.EventId)
	}
	t.Fatalf("no event %s", what)
	return nil
}

func (s *eventSink) all() []*lifelinev1.ConditionEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*lifelinev1.ConditionEvent(nil), s.events...)
}

func (s *eventSink) len() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.events) }

func alarmSource(endpoint string) config.Source {
	s := config.Source{
		Name: "dcs", Endpoint: endpoint,
		PublishingInterval: config.Duration(100 * time.Millisecond),
		ReconnectMin:       config.Duration(200 * time.Millisecond),
		ReconnectMax:       config.Duration(time.Second),
		Events:             config.Events{Enabled: true},
		Points:             []config.Point{{ID: "LS201", Node: "nsu=" + nodeNS + ";s=Plant.Tank2.LevelSwitch"}},
	}
	config.SourceDefaults(&s)
	return s
}

// runReader runs a reader of src into sink until the returned stop.
func runReader(t *testing.T, src config.Source, sink Sink) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := New(src, sink, slog.New(slog.DiscardHandler))
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// A node-opcua alarm raised, acknowledged and cleared arrives as three
// events with the condition's fields; a new reader and a reconnect each
// get the standing alarm again by ConditionRefresh, marked refresh and
// with the EventId of its last transition, so it is stored once.
func TestNodeOPCUAConditionEvents(t *testing.T) {
	t.Parallel()
	srv := startAlarmServer(t)
	port := freePort(t)
	px := listenProxy(t, port, strings.TrimPrefix(srv.endpoint, "opc.tcp://"))
	src := alarmSource("opc.tcp://127.0.0.1:" + itoa(port))
	sink := &eventSink{}
	stop := runReader(t, src, sink)
	time.Sleep(2 * time.Second) // the event subscription is created
	srv.do(t, "raise")
	raised := sink.waitFor(t, 0, "raised", func(e *lifelinev1.ConditionEvent) bool { return e.Active && !e.Acked })
	// node-opcua names the source by its browse name with the namespace
	// index ("2:Tank2") and gives an active alarm severity 150.
	if raised.ConditionName != "LSH201" || !strings.HasSuffix(raised.SourceName, "Tank2") || raised.Severity != 150 || !raised.Retain ||
		len(raised.EventId) == 0 || raised.TimeNs == 0 || raised.Source != "dcs" || raised.ConditionId != "nsu="+nodeNS+";s=Plant.Tank2.LSH201" ||
		raised.SourceNode != "nsu="+nodeNS+";s=Plant.Tank2" {
		t.Fatalf("raised event %v", raised)
	}

	// An agent restart: the new reader's refresh re-sends the standing
	// alarm with the same EventId.
	stop()
	n := sink.len()
	stop = runReader(t, src, sink)
	again := sink.waitFor(t, n, "refreshed after restart", func(e *lifelinev1.ConditionEvent) bool { return e.Refresh })
	if !bytes.Equal(again.EventId, raised.EventId) || !again.Active || again.Acked {
		t.Fatalf("refreshed after restart %v, want the raise %x again", again, raised.EventId)
	}

	// A reconnect: every connection dropped.
	n = sink.len()
	px.close()
	px = listenProxy(t, port, strings.TrimPrefix(srv.endpoint, "opc.tcp://"))
	defer px.close()
	again = sink.waitFor(t, n, "refreshed after reconnect", func(e *lifelinev1.ConditionEvent) bool { return e.Refresh })
	if !bytes.Equal(again.EventId, raised.EventId) {
		t.Fatalf("refreshed after reconnect %v, want the raise %x again", again, raised.EventId)
	}

	n = sink.len()
	srv.do(t, "ack")
	acked := sink.waitFor(t, n, "acknowledged", func(e *lifelinev1.ConditionEvent) bool { return e.Active && e.Acked })
	srv.do(t, "clear")
	cleared := sink.waitFor(t, n, "cleared", func(e *lifelinev1.ConditionEvent) bool { return !e.Active && e.Acked })
	// node-opcua keeps Retain set once the alarm is back to normal
	// ("Back to normal" is a ConditionInfo with retain true).
	if bytes.Equal(acked.EventId, raised.EventId) || bytes.Equal(cleared.EventId, acked.EventId) {
		t.Fatalf("acknowledged %x, cleared %x: want a new EventId per transition", acked.EventId, cleared.EventId)
	}
	for _, e := range sink.all() {
		if e.ConditionId == "" {
			t.Fatalf("an event that is no condition's was kept: %v", e)
		}
	}
	stop()
}

// The event fields convert whatever their variant types: node IDs by
// namespace URI, localized and qualified text, fields an event type does
// not have (null) left zero.
func TestConditionEventFields(t *testing.T) {
	at := time.Date(2026, 3, 2, 8, 10, 0, 0, time.UTC)
	f := make([]*ua.Variant, nEventFields)
	f[fEventID] = ua.MustVariant([]byte{1, 2})
	f[fEventType] = ua.MustVariant(ua.NewNumericNodeID(0, 10637))
	f[fSourceNode] = ua.MustVariant(ua.NewStringNodeID(2, "Plant.Tank2"))
	f[fSourceName] = ua.MustVariant("Tank2")
	f[fTime] = ua.MustVariant(at)
	f[fSeverity] = ua.MustVariant(uint16(700))
	f[fMessage] = ua.MustVariant(&ua.LocalizedText{Text: "高液位 \xff", EncodingMask: ua.LocalizedTextText})
	f[fConditionName] = ua.MustVariant("LSH201")
	f[fActive] = ua.MustVariant(true)
	f[fConditionID] = ua.MustVariant(ua.NewStringNodeID(2, "Plant.Tank2.LSH201"))
	e := conditionEvent(f, at.Add(time.Second), []string{"http://opcfoundation.org/UA/", "urn:x", "urn:dcs"})
	if string(e.EventId) != "\x01\x02" || e.EventType != "i=10637" || e.SourceNode != "nsu=urn:dcs;s=Plant.Tank2" ||
		e.SourceName != "Tank2" || e.TimeNs != at.UnixNano() || e.Severity != 700 || e.Message != "高液位 \uFFFD" ||
		e.ConditionName != "LSH201" || !e.Active || e.Acked || e.Retain || e.ConditionId != "nsu=urn:dcs;s=Plant.Tank2.LSH201" ||
		e.ReceiveNs != at.Add(time.Second).UnixNano() {
		t.Fatalf("converted %v", e)
	}
	if e := conditionEvent(f[:fConditionName], at, nil); e.ConditionId != "" || e.ConditionName != "" || e.SourceNode != "ns=2;s=Plant.Tank2" {
		t.Fatalf("a base event converted %v", e)
	}
}

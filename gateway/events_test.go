package gateway_test

import (
	"context"
	"testing"
	"time"

	"batchgate/gateway"
)

func receive(t *testing.T, ch <-chan gateway.Event, n int) []gateway.Event {
	t.Helper()
	var got []gateway.Event
	timeout := time.After(5 * time.Second)
	for len(got) < n {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("stream closed after %d of %d events", len(got), n)
			}
			got = append(got, ev)
		case <-timeout:
			t.Fatalf("received %d of %d events", len(got), n)
		}
	}
	return got
}

// Every subscriber gets every event it may see, in order, once, with its JSON; a reconnect with
// the last id resumes without a gap; one that fell behind the kept events is told to reload.
func TestBrokerFanOutAndResume(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := gateway.NewBroker(100)
	all := func(gateway.Event) bool { return true }
	visionOnly := func(ev gateway.Event) bool { return ev.Project == "vision" }
	subs := make([]<-chan gateway.Event, 50)
	for i := range subs {
		_, _, subs[i] = b.Subscribe(ctx, 0, all)
	}
	_, _, vision := b.Subscribe(ctx, 0, visionOnly)
	if n := b.Subscribers(); n != 51 {
		t.Fatalf("%d subscribers, want 51", n)
	}
	for i := range 60 {
		project := "vision"
		if i%3 == 0 {
			project = "speech"
		}
		b.Publish(gateway.Event{Type: "task", Project: project, TaskID: "t"})
	}
	for _, ch := range subs {
		got := receive(t, ch, 60)
		for i, ev := range got {
			if ev.ID != int64(i+1) || len(ev.JSON()) == 0 {
				t.Fatalf("event %d: id %d, %d bytes of JSON", i, ev.ID, len(ev.JSON()))
			}
		}
	}
	for _, ev := range receive(t, vision, 40) {
		if ev.Project != "vision" {
			t.Fatalf("filtered stream got %+v", ev)
		}
	}

	replay, complete, _ := b.Subscribe(ctx, 55, all)
	if !complete || len(replay) != 5 || replay[0].ID != 56 {
		t.Fatalf("resume after 55: complete %v, %d events from %d", complete, len(replay), replay[0].ID)
	}
	for range 100 { // ids 61..160: the kept 100 start at 61
		b.Publish(gateway.Event{Type: "task", Project: "vision"})
	}
	if _, complete, _ := b.Subscribe(ctx, 59, all); complete {
		t.Fatal("resume after a forgotten id said complete")
	}
	if _, complete, _ := b.Subscribe(ctx, 60, all); !complete {
		t.Fatal("resume right before the oldest kept event said incomplete")
	}
}

// A subscriber that stops reading is dropped once it falls behind the kept events, without ever
// holding up the publisher.
func TestBrokerDropsASubscriberThatFallsBehind(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := gateway.NewBroker(10)
	_, _, stuck := b.Subscribe(ctx, 0, func(gateway.Event) bool { return true })
	done := make(chan struct{})
	go func() {
		for range 1000 { // far more than the channel's buffer and the kept events
			b.Publish(gateway.Event{Type: "task"})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("publishing waited for a subscriber that does not read")
	}
	closed := false
	for deadline := time.After(5 * time.Second); !closed; {
		select {
		case _, ok := <-stuck:
			closed = !ok
		case <-deadline:
			t.Fatal("the lagging subscriber's stream never closed")
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.Subscribers() != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := b.Subscribers(); n != 0 {
		t.Fatalf("%d subscribers after the drop, want 0", n)
	}
}

package gateway

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// Event is one change pushed to subscribers (the API's server-sent events). IDs increase by one;
// a client resumes with the last id it saw.
type Event struct {
	ID          int64      `json:"id"`
	Type        string     `json:"type"` // "container" or "task"
	At          time.Time  `json:"at"`
	Project     string     `json:"project"`
	Owner       string     `json:"owner"`
	ContainerID string     `json:"container_id"`
	TaskID      string     `json:"task_id,omitempty"`
	State       string     `json:"state"`
	Reason      string     `json:"reason,omitempty"`
	Container   *Container `json:"container,omitempty"`
	Task        *Task      `json:"task,omitempty"`
	Deleted     bool       `json:"deleted,omitempty"`
	// encoded holds the event's JSON, made once for every subscriber (a thousand streams must not
	// encode each event a thousand times) and only when one wants it (a start publishes four
	// events, and need not wait to encode them).
	encoded *encodedEvent
}

type encodedEvent struct {
	once sync.Once
	json []byte
}

// JSON returns the event as JSON. An event from a Broker is encoded once, on the first call, for
// all its subscribers; any other is encoded on every call.
func (ev Event) JSON() []byte {
	if ev.encoded == nil {
		b, _ := json.Marshal(ev) // cannot fail: plain data
		return b
	}
	ev.encoded.once.Do(func() { ev.encoded.json, _ = json.Marshal(ev) })
	return ev.encoded.json
}

// Broker fans events out to subscribers and keeps the most recent ones so a reconnecting client
// misses nothing. Publishing costs the same whatever the number of subscribers: the event is
// appended to the kept log and one broadcast wakes every subscriber, whose own goroutine reads
// what it has not seen yet (and filters it). A publisher never waits for a subscriber; one that
// falls behind the whole kept log is dropped and must reconnect (it resumes from its last id, or
// reloads when that is forgotten).
type Broker struct {
	mu     sync.Mutex
	nextID int64
	recent []Event // the last keep events, oldest first; an event is never changed once here
	keep   int
	wake   chan struct{} // closed by the next Publish (and then replaced)
	subs   int
}

// NewBroker keeps the last keep events for replay.
func NewBroker(keep int) *Broker {
	return &Broker{nextID: 1, keep: keep, wake: make(chan struct{})}
}

// Publish assigns ev its id and time, keeps it and wakes the subscribers.
func (b *Broker) Publish(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ev.ID = b.nextID
	b.nextID++
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	ev.encoded = &encodedEvent{}
	b.recent = append(b.recent, ev)
	if len(b.recent) > b.keep {
		b.recent = b.recent[len(b.recent)-b.keep:]
	}
	close(b.wake)
	b.wake = make(chan struct{})
}

// Subscribe returns the events after lastID that pass filter (replayed from memory) and a channel
// of the ones to come. complete is false when events after lastID have already been forgotten:
// the client should reload its state. The channel closes when ctx ends or the subscriber falls
// behind the kept events.
func (b *Broker) Subscribe(ctx context.Context, lastID int64, filter func(Event) bool) (replay []Event, complete bool, ch <-chan Event) {
	b.mu.Lock()
	complete = lastID == 0 || len(b.recent) == 0 || b.recent[0].ID <= lastID+1
	for _, ev := range b.recent {
		if ev.ID > lastID && lastID > 0 && filter(ev) {
			replay = append(replay, ev)
		}
	}
	seen := b.nextID - 1
	b.subs++
	b.mu.Unlock()
	out := make(chan Event, 256)
	go b.forward(ctx, seen, filter, out)
	return replay, complete, out
}

// forward sends the events after seen that pass filter to out, as they are published, until ctx
// ends or the subscriber falls behind the kept events; then it closes out.
func (b *Broker) forward(ctx context.Context, seen int64, filter func(Event) bool, out chan<- Event) {
	defer func() {
		b.mu.Lock()
		b.subs--
		b.mu.Unlock()
		close(out)
	}()
	for {
		evs, wake, lost := b.after(seen)
		if lost {
			return
		}
		for _, ev := range evs {
			seen = ev.ID
			if !filter(ev) {
				continue
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return
		}
	}
}

// after returns the kept events after id, a channel closed by the next Publish, and whether
// events after id were already forgotten. The slice shares the log's memory: kept events are
// never written again, and appends land beyond its length.
func (b *Broker) after(id int64) (evs []Event, wake <-chan struct{}, lost bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.recent) == 0 || id >= b.recent[len(b.recent)-1].ID {
		return nil, b.wake, false
	}
	i := id + 1 - b.recent[0].ID
	if i < 0 {
		return nil, b.wake, true
	}
	return b.recent[i:len(b.recent):len(b.recent)], b.wake, false
}

// Subscribers returns how many subscriptions are open (for metrics).
func (b *Broker) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.subs
}

package gateway

import (
	"context"
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
}

// Broker fans events out to subscribers and keeps the most recent ones so a reconnecting client
// misses nothing. It never blocks a publisher: a subscriber that falls a whole buffer behind is
// dropped and must reconnect (and resumes from its last id).
type Broker struct {
	mu     sync.Mutex
	nextID int64
	recent []Event // ring of the last cap(recent) events, oldest first
	keep   int
	subs   map[*subscription]struct{}
}

type subscription struct {
	ch     chan Event
	filter func(Event) bool
}

// NewBroker keeps the last keep events for replay.
func NewBroker(keep int) *Broker {
	return &Broker{nextID: 1, keep: keep, subs: map[*subscription]struct{}{}}
}

// Publish assigns ev its id and time and delivers it.
func (b *Broker) Publish(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ev.ID = b.nextID
	b.nextID++
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	b.recent = append(b.recent, ev)
	if len(b.recent) > b.keep {
		b.recent = b.recent[len(b.recent)-b.keep:]
	}
	for s := range b.subs {
		if !s.filter(ev) {
			continue
		}
		select {
		case s.ch <- ev:
		default: // too slow: drop it; the closed channel tells it to reconnect with its last id
			close(s.ch)
			delete(b.subs, s)
		}
	}
}

// Subscribe returns the events after lastID that pass filter (replayed from memory) and a channel
// of the ones to come. complete is false when events after lastID have already been forgotten:
// the client should reload its state. The channel closes when ctx ends or the subscriber lags.
func (b *Broker) Subscribe(ctx context.Context, lastID int64, filter func(Event) bool) (replay []Event, complete bool, ch <-chan Event) {
	s := &subscription{ch: make(chan Event, 256), filter: filter}
	b.mu.Lock()
	complete = lastID == 0 || len(b.recent) == 0 || b.recent[0].ID <= lastID+1
	for _, ev := range b.recent {
		if ev.ID > lastID && lastID > 0 && filter(ev) {
			replay = append(replay, ev)
		}
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		if _, ok := b.subs[s]; ok {
			delete(b.subs, s)
			close(s.ch)
		}
		b.mu.Unlock()
	}()
	return replay, complete, s.ch
}

// Subscribers returns how many subscriptions are open (for metrics).
func (b *Broker) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

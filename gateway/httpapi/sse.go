package httpapi

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"batchgate/gateway"
)

// heartbeat keeps idle event streams alive through proxies and detects gone clients.
const heartbeat = 15 * time.Second

// events streams changes the caller may see as server-sent events. A client that reconnects with
// Last-Event-ID gets what it missed; if that is no longer known it gets a "reset" event first and
// should reload.
func (s *Server) events(c *fiber.Ctx) error {
	p := principal(c)
	lastID, _ := strconv.ParseInt(c.Get("Last-Event-ID", c.Query("last_event_id")), 10, 64)
	ctx, cancel := context.WithCancel(s.streams)
	replay, complete, ch := s.svc.Events().Subscribe(ctx, lastID, func(ev gateway.Event) bool {
		return p.CanAccess(ev.Project, ev.Owner)
	})
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("X-Accel-Buffering", "no")
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer cancel()
		// Something is written at once, so the client gets the response headers now rather than
		// with the first event; retry tells it how soon to reconnect.
		fmt.Fprintf(w, "retry: 3000\n\n")
		if !complete {
			fmt.Fprintf(w, "event: reset\ndata: {}\n\n")
		}
		for _, ev := range replay {
			writeEvent(w, ev)
		}
		if w.Flush() != nil {
			return
		}
		tick := time.NewTicker(heartbeat)
		defer tick.Stop()
		for {
			select {
			case ev, ok := <-ch:
				if !ok {
					return // shutdown, or this client fell too far behind: it reconnects and resumes
				}
				writeEvent(w, ev)
			case <-tick.C:
				fmt.Fprintf(w, ": ping\n\n")
			}
			if w.Flush() != nil {
				return // the client went away
			}
		}
	})
	return nil
}

func writeEvent(w *bufio.Writer, ev gateway.Event) {
	data := ev.JSON()
	fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.ID, ev.Type, data)
}

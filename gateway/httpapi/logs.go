package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"batchgate/gateway"
)

// taskLog answers the last ?tail= KiB (default 64) of a task's log as text, or with ?follow=1
// streams its lines as server-sent events: "line" events whose id is the byte offset after the
// line (resume with Last-Event-ID), then one "end" event with the task's final state.
func (s *Server) taskLog(c *fiber.Ctx) error {
	id := c.Params("id")
	if c.QueryBool("follow") {
		return s.followLog(c, id)
	}
	kib := gateway.DefaultLogTailKiB
	if v := c.Query("tail"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return badRequestf("tail", "must be a whole number of KiB (1-1024)")
		}
		kib = n
	}
	b, err := s.svc.TaskLogTail(c.UserContext(), principal(c), id, kib)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
	return c.Send(b)
}

func (s *Server) followLog(c *fiber.Ctx, id string) error {
	p := principal(c)
	from, err := strconv.ParseInt(c.Get("Last-Event-ID", "0"), 10, 64)
	if err != nil {
		return badRequestf("Last-Event-ID", "must be the byte offset of the last line received")
	}
	// Check access before the stream starts, so a refusal is a proper problem response.
	if _, err := s.svc.GetTask(c.UserContext(), p, id); err != nil {
		return err
	}
	id = string([]byte(id)) // fiber reuses the params buffer once the handler returns
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("X-Accel-Buffering", "no")
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		ctx, cancel := context.WithCancel(s.streams)
		defer cancel()
		fmt.Fprintf(w, "retry: 3000\n\n")
		if w.Flush() != nil {
			return
		}
		task, err := s.svc.TaskLogStream(ctx, p, id, from, func(next int64, line []byte) error {
			// JSON keeps carriage returns and any bytes intact inside one SSE data line.
			data, _ := json.Marshal(map[string]string{"line": string(line)})
			fmt.Fprintf(w, "id: %d\nevent: line\ndata: %s\n\n", next, data)
			return w.Flush() // an error here means the client went away: stop streaming
		})
		if err != nil {
			if ctx.Err() == nil {
				data, _ := json.Marshal(map[string]string{"error": "the log stream stopped; reconnect to resume"})
				fmt.Fprintf(w, "event: error\ndata: %s\n\n", data)
				_ = w.Flush()
			}
			return
		}
		data, _ := json.Marshal(map[string]any{"state": task.State, "exit_code": task.ExitCode})
		fmt.Fprintf(w, "event: end\ndata: %s\n\n", data)
		_ = w.Flush()
	})
	return nil
}

// taskLogDownload answers a short-lived URL of the sealed log.
func (s *Server) taskLogDownload(c *fiber.Ctx) error {
	url, expires, err := s.svc.TaskLogDownload(c.UserContext(), principal(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"url": url, "expires_at": expires})
}

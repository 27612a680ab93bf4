package httpapi

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"batchgate/gateway"
)

// containerRequest is the body of create and update.
type containerRequest struct {
	Project  string           `json:"project"`
	Name     string           `json:"name"`
	Image    string           `json:"image"`
	Flavor   string           `json:"flavor"`
	Command  string           `json:"command"`
	Env      []gateway.EnvVar `json:"env"`
	Schedule *scheduleRequest `json:"schedule"`
	Favorite bool             `json:"favorite"`
}

// scheduleRequest carries "at" as text: RFC 3339 with an offset, or a wall-clock hour
// (YYYY-MM-DDTHH:00) in the cluster's time zone.
type scheduleRequest struct {
	Kind string `json:"kind"`
	At   string `json:"at"`
}

func (r containerRequest) spec(loc *time.Location) (gateway.ContainerSpec, error) {
	spec := gateway.ContainerSpec{Project: r.Project, Name: r.Name, Image: r.Image, Flavor: r.Flavor,
		Command: r.Command, Env: r.Env, Favorite: r.Favorite}
	if r.Schedule == nil {
		return spec, nil
	}
	spec.Schedule.Kind = gateway.ScheduleKind(r.Schedule.Kind)
	if r.Schedule.At == "" {
		return spec, nil
	}
	at, err := time.Parse(time.RFC3339, r.Schedule.At)
	if err != nil {
		at, err = gateway.ParseLocalHour(r.Schedule.At, loc)
	}
	if err != nil {
		return spec, &gateway.Error{Code: gateway.CodeInvalid, Message: "the container spec has problems",
			Fields: []gateway.FieldError{{Field: "schedule.at", Detail: err.Error()}}}
	}
	spec.Schedule.At = &at
	return spec, nil
}

// containerView is a container as the API shows it: the scheduled hour in the cluster's zone.
func (s *Server) containerView(c *gateway.Container) *gateway.Container {
	if c.Schedule.At == nil {
		return c // nothing to show in the cluster's zone (and a listing copies no container)
	}
	v := *c
	at := v.Schedule.At.In(s.svc.Location())
	v.Schedule.At = &at
	return &v
}

func (s *Server) createContainer(c *fiber.Ctx) error {
	var req containerRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	spec, err := req.spec(s.svc.Location())
	if err != nil {
		return err
	}
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	ctr, err := s.svc.CreateContainer(c.UserContext(), principal(c), spec, key)
	if err != nil {
		return err
	}
	c.Location("/api/v1/containers/" + ctr.ID)
	return c.Status(fiber.StatusCreated).JSON(s.containerView(ctr))
}

func (s *Server) listContainers(c *fiber.Ctx) error {
	limit := 0
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return badRequestf("limit", "must be a whole number from 1 to 500")
		}
		limit = n
	}
	page, next, err := s.svc.ListContainers(c.UserContext(), principal(c), gateway.ContainerFilter{
		State: gateway.ContainerState(c.Query("state")), Name: c.Query("name"), Cursor: c.Query("cursor"), Limit: limit,
	})
	if err != nil {
		return err
	}
	items := make([]*gateway.Container, len(page))
	for i, ctr := range page {
		items[i] = s.containerView(ctr)
	}
	return c.JSON(fiber.Map{"items": items, "next_cursor": next})
}

func (s *Server) getContainer(c *fiber.Ctx) error {
	ctr, err := s.svc.GetContainer(c.UserContext(), principal(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(s.containerView(ctr))
}

func (s *Server) updateContainer(c *fiber.Ctx) error {
	var req containerRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	spec, err := req.spec(s.svc.Location())
	if err != nil {
		return err
	}
	ctr, err := s.svc.UpdateContainer(c.UserContext(), principal(c), c.Params("id"), spec)
	if err != nil {
		return err
	}
	return c.JSON(s.containerView(ctr))
}

func (s *Server) deleteContainer(c *fiber.Ctx) error {
	if err := s.svc.DeleteContainer(c.UserContext(), principal(c), c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) startContainer(c *fiber.Ctx) error {
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	t, err := s.svc.StartContainer(c.UserContext(), principal(c), c.Params("id"), key)
	if err != nil {
		return err
	}
	c.Location("/api/v1/tasks/" + t.ID)
	return c.Status(fiber.StatusAccepted).JSON(t)
}

func (s *Server) stopContainer(c *fiber.Ctx) error {
	t, err := s.svc.StopContainer(c.UserContext(), principal(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(t)
}

func (s *Server) refreshContainer(c *fiber.Ctx) error {
	ctr, err := s.svc.RefreshContainer(c.UserContext(), principal(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(s.containerView(ctr))
}

// containerScript answers the exact sbatch script as text; ?download=1 asks the browser to save it.
func (s *Server) containerScript(c *fiber.Ctx) error {
	id := c.Params("id")
	script, err := s.svc.Script(c.UserContext(), principal(c), id)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/x-shellscript; charset=utf-8")
	if c.Query("download") != "" {
		c.Attachment(id + ".sbatch")
	}
	return c.SendString(script)
}

func (s *Server) containerTasks(c *fiber.Ctx) error {
	tasks, err := s.svc.ContainerTasks(c.UserContext(), principal(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": tasks})
}

func (s *Server) getTask(c *fiber.Ctx) error {
	t, err := s.svc.GetTask(c.UserContext(), principal(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(t)
}

func (s *Server) taskHistory(c *fiber.Ctx) error {
	events, err := s.svc.TaskHistory(c.UserContext(), principal(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": events})
}

func (s *Server) listFlavors(c *fiber.Ctx) error {
	type flavorView struct {
		gateway.Flavor
		TimeLimitSeconds int64 `json:"time_limit_seconds"`
	}
	var items []flavorView
	for _, f := range s.svc.Flavors() {
		items = append(items, flavorView{f, int64(f.TimeLimit / time.Second)})
	}
	return c.JSON(fiber.Map{"items": items})
}

func (s *Server) listImages(c *fiber.Ctx) error {
	images, err := s.svc.Images(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": images})
}

func (s *Server) estimate(c *fiber.Ctx) error {
	name := c.Query("flavor")
	if name == "" {
		return badRequestf("flavor", "is required: ?flavor=NAME")
	}
	e, err := s.svc.Estimate(name)
	if err != nil {
		return err
	}
	return c.JSON(e)
}

// idempotencyKey reads the optional Idempotency-Key header.
func idempotencyKey(c *fiber.Ctx) (string, error) {
	key := strings.TrimSpace(c.Get("Idempotency-Key"))
	if len(key) > 200 || strings.ContainsFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return "", badRequestf("Idempotency-Key", "must be at most 200 printable ASCII characters")
	}
	return key, nil
}

package httpapi

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"batchgate/gateway"
)

const principalKey = "principal"

// authenticate requires a valid bearer token and puts its principal in the request. Addresses
// that keep failing are slowed down: after failureBurst failures in failureWindow they get 429
// until the window has passed.
func (s *Server) authenticate(c *fiber.Ctx) error {
	ip := c.IP()
	if wait := s.limiter.wait(ip, time.Now()); wait > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(wait.Seconds())+1))
		return fiber.NewError(fiber.StatusTooManyRequests, "too many failed authentications from this address; retry later")
	}
	token, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if !ok {
		s.limiter.fail(ip, time.Now())
		return gateway.Errorf(gateway.CodeUnauthorized, "send a token: Authorization: Bearer <token>")
	}
	p, err := s.opts.Auth.Authenticate(c.UserContext(), strings.TrimSpace(token))
	if err != nil {
		if gateway.ErrorCode(err) == gateway.CodeUnauthorized {
			s.limiter.fail(ip, time.Now())
		}
		return err
	}
	c.Locals(principalKey, p)
	return c.Next()
}

// principal is the authenticated caller of the request.
func principal(c *fiber.Ctx) gateway.Principal {
	p, _ := c.Locals(principalKey).(gateway.Principal)
	return p
}

const (
	failureBurst  = 10
	failureWindow = time.Minute
)

// failureLimiter counts failed authentications per address in fixed windows.
type failureLimiter struct {
	mu  sync.Mutex
	ips map[string]*failures
}

type failures struct {
	since time.Time
	n     int
}

func newFailureLimiter() *failureLimiter { return &failureLimiter{ips: map[string]*failures{}} }

func (l *failureLimiter) fail(ip string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.ips[ip]
	if f == nil || now.Sub(f.since) > failureWindow {
		f = &failures{since: now}
		l.ips[ip] = f
	}
	f.n++
	if len(l.ips) > 10000 { // forget expired windows so the map stays small under a scan
		for k, v := range l.ips {
			if now.Sub(v.since) > failureWindow {
				delete(l.ips, k)
			}
		}
	}
}

// wait returns how long ip must wait before it may try again (0: go ahead).
func (l *failureLimiter) wait(ip string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.ips[ip]
	if f == nil || f.n < failureBurst || now.Sub(f.since) > failureWindow {
		return 0
	}
	return failureWindow - now.Sub(f.since)
}

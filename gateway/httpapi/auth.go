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
// until the window has passed (valid tokens included: a guesser cannot tell when it has hit).
func (s *Server) authenticate(c *fiber.Ctx) error {
	ip := c.IP()
	if wait := s.limiter.wait(ip, time.Now()); wait > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(wait.Seconds())+1))
		return fiber.NewError(fiber.StatusTooManyRequests, "too many failed authentications from this address; retry later")
	}
	token, err := bearerToken(c.Get(fiber.HeaderAuthorization))
	if err != nil {
		s.limiter.fail(ip, time.Now())
		return err
	}
	p, err := s.opts.Auth.Authenticate(c.UserContext(), token)
	if err != nil {
		if gateway.ErrorCode(err) == gateway.CodeUnauthorized {
			s.limiter.fail(ip, time.Now())
		}
		return err
	}
	c.Locals(principalKey, p)
	return c.Next()
}

// maxTokenLength bounds what is hashed and looked up; batchgate tokens are 46 characters.
const maxTokenLength = 200

// bearerToken reads the token of an Authorization header (RFC 6750): the scheme "Bearer" in any
// case, one or more spaces, and one token of visible ASCII without spaces. Each malformed form is
// a CodeUnauthorized error saying what is wrong; tokens are never accepted from the query string.
func bearerToken(header string) (string, error) {
	header = strings.TrimSpace(header)
	if header == "" {
		return "", gateway.Errorf(gateway.CodeUnauthorized, "send a token: Authorization: Bearer <token>")
	}
	scheme, token, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", gateway.Errorf(gateway.CodeUnauthorized, "the Authorization scheme must be Bearer: Authorization: Bearer <token>")
	}
	token = strings.TrimLeft(token, " ")
	switch {
	case token == "":
		return "", gateway.Errorf(gateway.CodeUnauthorized, "the Authorization header carries no token")
	case len(token) > maxTokenLength || strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r > '~' }):
		return "", gateway.Errorf(gateway.CodeUnauthorized, "malformed token")
	}
	return token, nil
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

package daemon

import (
	"errors"
	"testing"
	"time"

	"batchgate/apptainer"
)

// The user cache answers from memory while fresh, asks again after userLookupTTL, and never keeps
// a failure (a login created a moment later works at once).
func TestUnixUsersCache(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	loads := map[string]int{}
	known := map[string]bool{"alice": true}
	users := newUnixUsers(func(login string) (apptainer.User, error) {
		loads[login]++
		if !known[login] {
			return apptainer.User{}, errors.New("no such login")
		}
		return apptainer.User{Name: login, UID: 1000 + loads[login]}, nil
	}, func() time.Time { return now })

	lookup := func(login string) apptainer.User {
		t.Helper()
		u, err := users.lookup(login)
		if err != nil {
			t.Fatalf("lookup %s: %v", login, err)
		}
		return u
	}
	if u := lookup("alice"); u.UID != 1001 {
		t.Fatalf("first lookup: uid %d", u.UID)
	}
	now = now.Add(userLookupTTL - time.Second)
	if u := lookup("alice"); u.UID != 1001 || loads["alice"] != 1 {
		t.Fatalf("fresh entry: uid %d after %d loads, want the cached 1001 after 1", u.UID, loads["alice"])
	}
	now = now.Add(time.Second)
	if u := lookup("alice"); u.UID != 1002 || loads["alice"] != 2 {
		t.Fatalf("stale entry: uid %d after %d loads, want a new load", u.UID, loads["alice"])
	}

	if _, err := users.lookup("dave"); err == nil {
		t.Fatal("unknown login: no error")
	}
	known["dave"] = true
	if u := lookup("dave"); u.Name != "dave" || loads["dave"] != 2 {
		t.Fatalf("a failure was cached: %+v after %d loads", u, loads["dave"])
	}
}

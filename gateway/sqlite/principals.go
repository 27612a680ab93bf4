package sqlite

import (
	"sync"
	"time"

	"batchgate/gateway"
)

// maxCachedPrincipals bounds the principal cache; when full it is emptied and refilled by use.
const maxCachedPrincipals = 10000

// principalCache keeps what PrincipalByTokenHash read, by token hash, for as long as the
// database's identity version (see migration 0008) stays the same: every request is
// authenticated, and one small read of the version replaces two queries. Only tokens that were
// accepted are kept; the entries' Principal values are shared and must not be modified.
type principalCache struct {
	mu      sync.Mutex
	version int64
	byHash  map[string]principalEntry
}

type principalEntry struct {
	principal gateway.Principal
	tokenID   string
	expiresAt *time.Time
	lastUsed  time.Time // as recorded in the database, or by dueForLastUse
}

// get returns the entry for hash if it was read at version.
func (c *principalCache) get(version int64, hash string) (principalEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != version {
		return principalEntry{}, false
	}
	e, ok := c.byHash[hash]
	return e, ok
}

// put keeps e, read at version (read before the token itself, so a change made in between
// makes the entry look older than it is, never newer).
func (c *principalCache) put(version int64, hash string, e principalEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if version < c.version {
		return
	}
	if version != c.version || len(c.byHash) >= maxCachedPrincipals {
		c.version, c.byHash = version, map[string]principalEntry{}
	}
	c.byHash[hash] = e
}

// dueForLastUse reports whether the token's last use should be written at now (at most once per
// lastUsedResolution), and if so records now as written.
func (c *principalCache) dueForLastUse(hash, tokenID string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byHash[hash]
	if ok && e.tokenID == tokenID && now.Sub(e.lastUsed) < lastUsedResolution {
		return false
	}
	if ok && e.tokenID == tokenID {
		e.lastUsed = now
		c.byHash[hash] = e
	}
	return true
}

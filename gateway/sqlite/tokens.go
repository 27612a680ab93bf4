package sqlite

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"batchgate/gateway"
)

// Token is an API token's record. Only a hash of the secret is stored, and it is never read
// back: a lost token is revoked and replaced.
type Token struct {
	ID         string     `json:"id"`
	User       string     `json:"user"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

type tokenRow struct {
	ID         string   `db:"id"`
	User       string   `db:"user"`
	Name       string   `db:"name"`
	CreatedAt  nanoTime `db:"created_at"`
	ExpiresAt  nanoTime `db:"expires_at"`
	RevokedAt  nanoTime `db:"revoked_at"`
	LastUsedAt nanoTime `db:"last_used_at"`
}

func (r tokenRow) token() Token {
	return Token{ID: r.ID, User: r.User, Name: r.Name, CreatedAt: r.CreatedAt.time(),
		ExpiresAt: r.ExpiresAt.ptr(), RevokedAt: r.RevokedAt.ptr(), LastUsedAt: r.LastUsedAt.ptr()}
}

// lastUsedResolution bounds how often a token's last use is written: authenticating is a read,
// and a write per request would queue every request behind the database's one writer.
const lastUsedResolution = time.Minute

// CreateToken records a token for user, named name, whose secret hashes to hash, valid until
// expires (nil: no expiry), and returns its id. Errors: CodeInvalid for an empty hash;
// CodeNotFound for an unknown user; CodeConflict when the hash is already recorded.
func (s *DB) CreateToken(ctx context.Context, user, name, hash string, expires *time.Time) (string, error) {
	if err := required("hash", hash); err != nil {
		return "", err
	}
	id := newID()
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := exists(ctx, tx, "users", "user", user); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO tokens (id, user, name, hash, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?)`, id, user, name, hash, nt(s.now()), ntp(expires))
		if isUnique(err, "tokens.hash") {
			return gateway.Errorf(gateway.CodeConflict, "a token with this secret already exists")
		}
		if err != nil {
			return dbErrorf("create token for %s: %w", user, err)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// Tokens lists user's tokens, revoked and expired ones included, oldest first. Returns
// CodeNotFound for an unknown user.
func (s *DB) Tokens(ctx context.Context, user string) ([]Token, error) {
	if err := exists(ctx, s.db, "users", "user", user); err != nil {
		return nil, err
	}
	var rows []tokenRow
	if err := s.db.SelectContext(ctx, &rows, `SELECT id, user, name, created_at, expires_at, revoked_at,
		last_used_at FROM tokens WHERE user = ? ORDER BY created_at, id`, user); err != nil {
		return nil, dbErrorf("list tokens of %s: %w", user, err)
	}
	out := make([]Token, len(rows))
	for i, r := range rows {
		out[i] = r.token()
	}
	return out, nil
}

// RevokeToken revokes a token for good; revoking it again keeps the first revocation time.
// Returns CodeNotFound for an unknown id.
func (s *DB) RevokeToken(ctx context.Context, id string) error {
	res, err := s.exec(ctx, "UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?", nt(s.now()), id)
	return affectedOne(res, err, "token", id)
}

// Why each token was refused: the problem says which case, and nothing about whose token it is
// (no user or token name), so a stolen or guessed secret learns nothing more than its state.
var (
	errUnknownToken = gateway.Errorf(gateway.CodeUnauthorized, "unknown token")
	errRevoked      = gateway.Errorf(gateway.CodeUnauthorized, "the token was revoked")
	errExpired      = gateway.Errorf(gateway.CodeUnauthorized, "the token has expired")
	errDisabled     = gateway.Errorf(gateway.CodeUnauthorized, "the token's user is disabled")
)

// principalQuery finds a token by an index lookup on its hash (and the cache below, by a map
// lookup). Those comparisons are not constant-time, but what they could leak through timing is a
// prefix of a SHA-256 of a 256-bit random secret, which does not help to find the secret; the hash
// found is compared again in constant time, so no branch depends on secret material byte by byte.
const principalQuery = `SELECT t.id, t.user, t.name, t.hash, t.created_at, t.expires_at, t.revoked_at,
	t.last_used_at, u.site_admin, u.disabled FROM tokens t JOIN users u ON u.name = t.user WHERE t.hash = ?`

// PrincipalByTokenHash returns who holds the token whose secret hashes to hash, at now: the user,
// whether they are a site admin, and their roles by project. It records the token's last use
// (at most once a minute). Returns a CodeUnauthorized *gateway.Error saying why when the token
// is unknown, revoked, expired (at or after expires_at), or its user is disabled; the message
// names neither the user nor the token.
//
// What it read is reused while the identity version stands still (migration 0008), so a
// revocation, a disabled user or a changed membership counts from the next request, whichever
// process made it.
func (s *DB) PrincipalByTokenHash(ctx context.Context, hash string, now time.Time) (gateway.Principal, error) {
	var version int64
	if err := s.db.GetContext(ctx, &version, "SELECT version FROM identity_version"); err != nil {
		return gateway.Principal{}, dbErrorf("authenticate: %w", err)
	}
	e, ok := s.principals.get(version, hash)
	if !ok {
		var err error
		if e, err = s.readPrincipal(ctx, hash); err != nil {
			return gateway.Principal{}, err
		}
		s.principals.put(version, hash, e)
	}
	if e.expiresAt != nil && !now.Before(*e.expiresAt) {
		return gateway.Principal{}, errExpired
	}
	if s.principals.dueForLastUse(hash, e.tokenID, now) {
		if _, err := s.exec(ctx, "UPDATE tokens SET last_used_at = ? WHERE id = ?", nt(now), e.tokenID); err != nil {
			return gateway.Principal{}, dbErrorf("authenticate: record last use: %w", err)
		}
	}
	return e.principal, nil
}

// readPrincipal reads the token whose secret hashes to hash and its user's roles, refusing a token
// that is unknown, revoked or whose user is disabled (expiry is the caller's: it depends on now).
func (s *DB) readPrincipal(ctx context.Context, hash string) (principalEntry, error) {
	var r struct {
		tokenRow
		Hash      string `db:"hash"`
		SiteAdmin bool   `db:"site_admin"`
		Disabled  bool   `db:"disabled"`
	}
	err := s.db.GetContext(ctx, &r, principalQuery, hash)
	if errors.Is(err, sql.ErrNoRows) {
		return principalEntry{}, errUnknownToken
	}
	if err != nil {
		return principalEntry{}, dbErrorf("authenticate: %w", err)
	}
	switch {
	case subtle.ConstantTimeCompare([]byte(r.Hash), []byte(hash)) != 1:
		return principalEntry{}, errUnknownToken // only a collation surprise could get here
	case r.RevokedAt.ptr() != nil:
		return principalEntry{}, errRevoked
	case r.Disabled:
		return principalEntry{}, errDisabled
	}
	projects, err := s.roles(ctx, r.User)
	if err != nil {
		return principalEntry{}, dbErrorf("authenticate: %w", err)
	}
	return principalEntry{
		principal: gateway.Principal{User: r.User, SiteAdmin: r.SiteAdmin, Projects: projects},
		tokenID:   r.ID, expiresAt: r.ExpiresAt.ptr(), lastUsed: r.LastUsedAt.time(),
	}, nil
}

package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"
)

// tokenPrefix marks batchgate tokens so they are recognisable in logs and secret scanners.
const tokenPrefix = "bg_"

// NewToken returns a new random bearer token and the hash under which it is stored. The token is
// shown once; only the hash is kept.
func NewToken() (token, hash string) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	token = tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashToken(token)
}

// HashToken is the stored form of a token: hex SHA-256. Tokens carry 256 random bits, so a fast
// hash is enough; a lookup by hash compares secrets in time independent of their content.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// TokenStore finds the principal that owns a token hash. It returns a CodeUnauthorized *Error
// saying why when the token is unknown, revoked or expired, or its user is disabled.
type TokenStore interface {
	PrincipalByTokenHash(ctx context.Context, hash string, now time.Time) (Principal, error)
}

// Authenticator turns bearer tokens into principals.
type Authenticator struct {
	Tokens TokenStore
	Now    func() time.Time
}

// Authenticate checks a bearer token. Malformed, unknown, revoked and expired tokens and disabled
// users are CodeUnauthorized.
func (a Authenticator) Authenticate(ctx context.Context, token string) (Principal, error) {
	if !strings.HasPrefix(token, tokenPrefix) || len(token) > 200 {
		return Principal{}, Errorf(CodeUnauthorized, "not a batchgate token")
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	return a.Tokens.PrincipalByTokenHash(ctx, HashToken(token), now())
}

package logship

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/lifecycle"
)

// Sentinel errors of the store. Callers test them with errors.Is.
var (
	// ErrBucketMissing means the configured bucket does not exist.
	ErrBucketMissing = errors.New("logship: bucket missing")
	// ErrUnreachable means COS did not answer (network, DNS, TLS, 5xx, auth).
	ErrUnreachable = errors.New("logship: object store unreachable")
	// ErrNotSealed means the sealed log object of a source does not exist (yet).
	ErrNotSealed = errors.New("logship: log not sealed")
	// ErrInvalidConfig means a COSConfig is unusable; the message names the field.
	ErrInvalidConfig = errors.New("logship: invalid config")
)

// retentionRuleID names the lifecycle rule EnsureBucket manages, so rules
// added by an operator are left alone.
const retentionRuleID = "batchgate-logs-retention"

// COSConfig configures the object store connection.
type COSConfig struct {
	Endpoint  string // host:port, no scheme
	AccessKey string
	SecretKey string
	Bucket    string
	Region    string // e.g. us-east-1; empty lets the client discover it
	UseTLS    bool
	// RetentionDays expires objects under logs/ after this many days through
	// a bucket lifecycle rule; 0 means keep forever (the rule is removed).
	RetentionDays int
}

// Validate reports every problem of the config at once, wrapped in
// ErrInvalidConfig.
func (c COSConfig) Validate() error {
	var probs []string
	if c.Endpoint == "" {
		probs = append(probs, "endpoint is empty")
	}
	if strings.Contains(c.Endpoint, "://") {
		probs = append(probs, "endpoint must be host:port without a scheme")
	}
	if c.Bucket == "" {
		probs = append(probs, "bucket is empty")
	}
	if c.RetentionDays < 0 {
		probs = append(probs, "retention days is negative")
	}
	if len(probs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(probs, "; "))
	}
	return nil
}

// Store is a COS bucket holding task logs. It is safe for concurrent use.
type Store struct {
	client    *minio.Client
	bucket    string
	retention int
}

// NewStore returns a Store for cfg. It does not contact COS; use EnsureBucket
// at start-up and Ready for health checks. Returns ErrInvalidConfig for a bad
// config.
func NewStore(cfg COSConfig) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.UseTLS,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return &Store{client: client, bucket: cfg.Bucket, retention: cfg.RetentionDays}, nil
}

// Bucket returns the bucket name.
func (s *Store) Bucket() string { return s.bucket }

// Ready reports whether the bucket exists and COS answers: nil, ErrBucketMissing,
// or an error wrapping ErrUnreachable.
func (s *Store) Ready(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("check bucket %s: %w: %w", s.bucket, ErrUnreachable, err)
	}
	if !ok {
		return fmt.Errorf("%w: %s", ErrBucketMissing, s.bucket)
	}
	return nil
}

// EnsureBucket creates the bucket when it is missing and applies the retention
// rule (RetentionDays > 0) or removes it (0). Errors wrap ErrUnreachable when
// COS does not answer.
func (s *Store) EnsureBucket(ctx context.Context) error {
	err := s.Ready(ctx)
	if errors.Is(err, ErrBucketMissing) {
		err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{})
		if err != nil && minio.ToErrorResponse(err).Code != minio.BucketAlreadyOwnedByYou {
			return fmt.Errorf("create bucket %s: %w", s.bucket, err)
		}
	} else if err != nil {
		return err
	}
	return s.applyRetention(ctx)
}

func (s *Store) applyRetention(ctx context.Context) error {
	cfg, err := s.client.GetBucketLifecycle(ctx, s.bucket)
	if err != nil {
		if minio.ToErrorResponse(err).Code != "NoSuchLifecycleConfiguration" {
			return fmt.Errorf("get lifecycle of %s: %w", s.bucket, err)
		}
		cfg = lifecycle.NewConfiguration()
	}
	rules := cfg.Rules[:0]
	for _, r := range cfg.Rules {
		if r.ID != retentionRuleID {
			rules = append(rules, r)
		}
	}
	changed := len(rules) != len(cfg.Rules)
	if s.retention > 0 {
		rules = append(rules, lifecycle.Rule{
			ID:         retentionRuleID,
			Status:     "Enabled",
			RuleFilter: lifecycle.Filter{Prefix: "logs/"},
			Expiration: lifecycle.Expiration{Days: lifecycle.ExpirationDays(s.retention)},
			// Abandoned multipart uploads of a crashed seal hold space too.
			AbortIncompleteMultipartUpload: lifecycle.AbortIncompleteMultipartUpload{DaysAfterInitiation: 1},
		})
		changed = true
	}
	if !changed {
		return nil
	}
	cfg.Rules = rules
	if err := s.client.SetBucketLifecycle(ctx, s.bucket, cfg); err != nil {
		return fmt.Errorf("set lifecycle of %s: %w", s.bucket, err)
	}
	return nil
}

// PresignLog returns a GET URL for the sealed log of src, valid for ttl, that
// makes browsers download it as <task>.log. Returns ErrNotSealed when the
// sealed object does not exist.
func (s *Store) PresignLog(ctx context.Context, src Source, ttl time.Duration) (*url.URL, error) {
	if err := src.validate(); err != nil {
		return nil, err
	}
	if _, err := s.client.StatObject(ctx, s.bucket, src.logKey(), minio.StatObjectOptions{}); err != nil {
		return nil, s.wrapMissing(err, "stat sealed log", ErrNotSealed)
	}
	name := path.Base(strings.TrimSuffix(src.Prefix, "/")) + ".log"
	params := url.Values{}
	params.Set("response-content-disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	u, err := s.client.PresignedGetObject(ctx, s.bucket, src.logKey(), ttl, params)
	if err != nil {
		return nil, fmt.Errorf("presign %s: %w", src.logKey(), err)
	}
	return u, nil
}

// wrapMissing maps a NoSuchKey answer to sentinel and anything else to a
// wrapped error.
func (s *Store) wrapMissing(err error, what string, sentinel error) error {
	if isNoSuchKey(err) {
		return fmt.Errorf("%s: %w", what, sentinel)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func isNoSuchKey(err error) bool {
	code := minio.ToErrorResponse(err).Code
	return code == minio.NoSuchKey || code == "NotFound"
}

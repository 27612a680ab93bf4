// Package logship keeps task logs: it tails them on HFS and ships them to COS.
package logship

import (
	"context"
	"errors"
	"fmt"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// ErrBucketMissing means COS answered but the configured bucket does not exist.
var ErrBucketMissing = errors.New("bucket does not exist")

// BucketTarget names a bucket on an S3-compatible endpoint.
type BucketTarget struct {
	Endpoint, AccessKey, SecretKey, Bucket, Region string
	TLS                                            bool
}

// CheckBucket reports whether COS answers and the bucket exists (ErrBucketMissing if not).
func CheckBucket(ctx context.Context, t BucketTarget) error {
	client, err := minio.New(t.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(t.AccessKey, t.SecretKey, ""),
		Secure: t.TLS,
		Region: t.Region,
	})
	if err != nil {
		return fmt.Errorf("cos client: %w", err)
	}
	ok, err := client.BucketExists(ctx, t.Bucket)
	if err != nil {
		return fmt.Errorf("cos %s: %w", t.Endpoint, err)
	}
	if !ok {
		return fmt.Errorf("cos %s: %s: %w", t.Endpoint, t.Bucket, ErrBucketMissing)
	}
	return nil
}

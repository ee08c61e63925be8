package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/rfkih/blackheart-inference/inference/artifact"
)

// gcsEndpoint is Google Cloud Storage's S3-interoperable endpoint (HMAC keys).
const gcsEndpoint = "https://storage.googleapis.com"

// Bucket is one bucket and key prefix. Safe for concurrent use.
type Bucket struct {
	client   *minio.Client
	bucket   string
	prefix   string
	endpoint string
}

var _ artifact.Remote = (*Bucket)(nil)

// Open parses an INFERENCE_ARTIFACT_STORE URL:
//
//	s3://bucket/prefix?region=us-east-1&endpoint=https://host:port
//	gs://bucket/prefix
//
// endpoint defaults to AWS S3 (s3.amazonaws.com) for s3:// and to
// storage.googleapis.com for gs://; an http:// endpoint is plain HTTP
// (a store on loopback), https:// is TLS.
func Open(raw string) (*Bucket, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("INFERENCE_ARTIFACT_STORE: %w", err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("INFERENCE_ARTIFACT_STORE=%q: no bucket", raw)
	}
	endpoint := u.Query().Get("endpoint")
	switch u.Scheme {
	case "s3":
		if endpoint == "" {
			endpoint = "https://s3.amazonaws.com"
		}
	case "gs":
		if endpoint == "" {
			endpoint = gcsEndpoint
		}
	default:
		return nil, fmt.Errorf("INFERENCE_ARTIFACT_STORE=%q: the scheme must be file, s3 or gs", raw)
	}
	ep, err := url.Parse(endpoint)
	if err != nil || (ep.Scheme != "http" && ep.Scheme != "https") || ep.Host == "" {
		return nil, fmt.Errorf("INFERENCE_ARTIFACT_STORE: endpoint %q must be http(s)://host[:port]", endpoint)
	}
	creds := credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{}, &credentials.EnvMinio{}, &credentials.FileAWSCredentials{}, &credentials.IAM{},
	})
	client, err := minio.New(ep.Host, &minio.Options{
		Creds: creds, Secure: ep.Scheme == "https", Region: u.Query().Get("region"),
		BucketLookup: minio.BucketLookupPath, MaxRetries: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("INFERENCE_ARTIFACT_STORE: %w", err)
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &Bucket{client: client, bucket: u.Host, prefix: prefix, endpoint: ep.Scheme + "://" + ep.Host}, nil
}

// String names the store without credentials.
func (b *Bucket) String() string { return fmt.Sprintf("%s/%s/%s", b.endpoint, b.bucket, b.prefix) }

// Get opens prefix+key.
func (b *Bucket) Get(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	obj, err := b.client.GetObject(ctx, b.bucket, b.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, 0, classify(err)
	}
	st, err := obj.Stat() // the first request happens here
	if err != nil {
		obj.Close()
		return nil, 0, classify(err)
	}
	return unreachableOnError{obj}, st.Size, nil
}

// Ping checks that the bucket exists and answers.
func (b *Bucket) Ping(ctx context.Context) error {
	ok, err := b.client.BucketExists(ctx, b.bucket)
	if err != nil {
		return classify(err)
	}
	if !ok {
		return fmt.Errorf("%w: bucket %s does not exist", artifact.ErrStoreUnreachable, b.bucket)
	}
	return nil
}

// List returns every artifact sha stored under the prefix.
func (b *Bucket) List(ctx context.Context) ([]string, error) {
	var shas []string
	for obj := range b.client.ListObjects(ctx, b.bucket, minio.ListObjectsOptions{Prefix: b.prefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, classify(obj.Err)
		}
		name := strings.TrimPrefix(obj.Key, b.prefix)
		if len(name) == 2+1+64+4 && strings.HasSuffix(name, ".pkl") {
			shas = append(shas, name[3:67])
		}
	}
	return shas, nil
}

// Put uploads an artifact (operators' and tests' convenience; the service
// never writes to the store).
func (b *Bucket) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	_, err := b.client.PutObject(ctx, b.bucket, b.prefix+key, r, size, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	return classify(err)
}

// MakeBucket creates the bucket if it is missing (tests and the demo).
func (b *Bucket) MakeBucket(ctx context.Context) error {
	if ok, err := b.client.BucketExists(ctx, b.bucket); err == nil && ok {
		return nil
	}
	return classify(b.client.MakeBucket(ctx, b.bucket, minio.MakeBucketOptions{}))
}

// classify maps minio-go errors to artifact's: a 404 NoSuchKey is
// ErrObjectNotFound; anything else is the store failing or unreachable.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var resp minio.ErrorResponse
	if errors.As(err, &resp) && (resp.StatusCode == http.StatusNotFound && resp.Code == "NoSuchKey") {
		return fmt.Errorf("%w: %s", artifact.ErrObjectNotFound, resp.Key)
	}
	return fmt.Errorf("%w: %w", artifact.ErrStoreUnreachable, err)
}

// unreachableOnError marks a failed read of an object body as the store's
// failure (a connection dropped mid-download).
type unreachableOnError struct{ *minio.Object }

func (u unreachableOnError) Read(p []byte) (int, error) {
	n, err := u.Object.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = classify(err)
	}
	return n, err
}

// Package objstore reaches artifacts in an object store: any S3-compatible
// one (AWS S3, SeaweedFS, Ceph RGW, R2, MinIO, …) and Google Cloud Storage
// through its S3-interoperable XML API, behind artifact.Remote. It uses
// minio-go, whose credential chain is the standard one: environment
// (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or MINIO_*), the shared AWS
// credentials file, then instance metadata (IAM roles). Credentials are
// never logged: String names only the bucket, prefix and endpoint.
//
// Imports: the standard library, minio-go, inference and inference/artifact.
// It must never import storage, api or native.
package objstore

package storage

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rfkih/blackheart-inference/inference"
)

// translate maps a pgx error to a coded error at the adapter's edge: a lost
// or unreachable database is db_unavailable (retryable); anything else is an
// internal error whose text stays in the logs.
func translate(ctx context.Context, err error, what string) error {
	if err == nil {
		return nil
	}
	var coded *inference.Error
	if errors.As(err, &coded) {
		return err
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return err // the caller went away; nothing to report to it
	}
	if isUnavailable(err) {
		return inference.Wrap(err, inference.CodeDBUnavailable, "the database is unavailable (%s)", what).
			WithDetails(map[string]any{"wait_s": inference.DBRetryWaitSeconds})
	}
	return inference.Wrap(err, inference.CodeInternal, "database error (%s)", what)
}

func isUnavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", // shutdown, crash, starting up
			pgErr.Code == "53300", // too many connections
			pgErr.Code == "57014": // statement cancelled by our query timeout
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err), pgconn.SafeToRetry(err):
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "connection refused") ||
		strings.Contains(msg, "closed pool")
}

// isPartitionMissing recognises an insert into signal_history whose ts has
// no partition (the table deliberately has no DEFAULT partition).
func isPartitionMissing(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23514" && strings.Contains(pgErr.Message, "no partition")
}

func isInvalidUUID(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "22P02"
}

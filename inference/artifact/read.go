package artifact

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// readBounded reads a whole artifact file of at most limit bytes. Only a
// regular file is read, and its size is checked before a byte is: a FIFO
// would block open and read forever, a device (a link to /dev/zero) never
// ends. The open never blocks (O_NONBLOCK, then the opened file is checked
// again, so a swap after the first check is caught too), and the read runs
// apart from the caller, who stops waiting when ctx ends — a stalled file
// system cannot hold a request past its deadline.
func readBounded(ctx context.Context, path string, limit int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("reading artifact %s: %w", filepath.Base(path), err)
	}
	if st, err := os.Stat(path); err != nil {
		return nil, err
	} else if err := checkRegular(st, limit); err != nil {
		return nil, err
	}
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := readRegular(path, limit)
		done <- result{data, err}
	}()
	select {
	case r := <-done:
		return r.data, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("reading artifact %s: %w", filepath.Base(path), ctx.Err())
	}
}

func readRegular(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := checkRegular(st, limit); err != nil {
		return nil, err
	}
	// Read into a buffer of the size stat gave, so that a megabyte
	// artifact costs one allocation rather than ReadAll's doublings; a file
	// that grew since is still read to its end, within limit.
	buf := bytes.NewBuffer(make([]byte, 0, st.Size()+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, err
	}
	if int64(buf.Len()) > limit {
		return nil, fmt.Errorf("file is larger than the %d-byte limit", limit)
	}
	return buf.Bytes(), nil
}

func checkRegular(st fs.FileInfo, limit int64) error {
	if !st.Mode().IsRegular() {
		return fmt.Errorf("not a regular file (%s)", st.Mode().Type())
	}
	if st.Size() > limit {
		return fmt.Errorf("file is %d bytes, larger than the %d-byte limit", st.Size(), limit)
	}
	return nil
}

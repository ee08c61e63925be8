package storage

import "context"

// ForEachValueRow exposes the binary row decoder to the package's external
// tests, which hold it to pgx's own Scan.
var ForEachValueRow = forEachValueRow

// Setting reads a run-time parameter on one of the pool's connections.
func Setting(s *Store, name string) (string, error) {
	var v string
	err := s.pool.QueryRow(context.Background(), "SELECT current_setting($1)", name).Scan(&v)
	return v, err
}

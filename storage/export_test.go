package storage

// ForEachValueRow exposes the binary row decoder to the package's external
// tests, which hold it to pgx's own Scan.
var ForEachValueRow = forEachValueRow

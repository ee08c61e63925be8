// Command lint keeps the house in order; `make lint` runs it inside `make
// test`. It checks, for both build flavours, that each package depends only
// on what its doc.go allows (go list -deps) and that cgo appears only in
// native; and, over every non-test Go file, that none is longer than 400
// lines and no function longer than 80. It prints every violation and exits
// 1 if there is one.
package main

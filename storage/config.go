package storage

import (
	"net/url"
	"regexp"
)

var kvPassword = regexp.MustCompile(`(password\s*=\s*)('[^']*'|\S+)`)

// Redacted is the config as logged at start-up: the DSN's password is hidden.
func (c Config) Redacted() map[string]any {
	dsn := c.DSN
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "redacted")
		}
		dsn = u.String()
	} else {
		dsn = kvPassword.ReplaceAllString(dsn, "${1}redacted")
	}
	return map[string]any{"dsn": dsn, "min_pool": c.MinPool, "max_pool": c.MaxPool,
		"query_timeout": c.QueryTimeout.String(), "connect_timeout": c.ConnectTimeout.String()}
}

package api

import (
	"fmt"
	"net"
	"strings"
	"time"
)

// DevToken is the development sentinel token; refused under the prod profile.
const DevToken = "dev-token"

// Config configures the HTTP server.
type Config struct {
	Profile   string `env:"INFERENCE_PROFILE" envDefault:"dev"`
	AuthToken string `env:"INFERENCE_AUTH_TOKEN"` // unset or empty: DevToken under dev, refused under prod
	Host      string `env:"INFERENCE_HOST" envDefault:"127.0.0.1"`
	// NetworkMode is host (D11: loopback only) or container (D14: any bind
	// address, a real token, and only AllowedClients may connect).
	NetworkMode string `env:"INFERENCE_NETWORK_MODE" envDefault:"host"`
	// AllowedClients (container mode): comma-separated client networks
	// (CIDR or single address); empty means loopback plus the subnets of
	// the container's own interfaces. Loopback is always allowed.
	AllowedClients  string        `env:"INFERENCE_ALLOWED_CLIENTS"`
	Port            int           `env:"INFERENCE_PORT" envDefault:"8000"`
	BodyLimitBytes  int64         `env:"INFERENCE_BODY_LIMIT_BYTES" envDefault:"65536"`
	RunTimeout      time.Duration `env:"INFERENCE_RUN_TIMEOUT" envDefault:"30s"`
	BackfillTimeout time.Duration `env:"INFERENCE_BACKFILL_TIMEOUT" envDefault:"115s"`
	ShutdownTimeout time.Duration `env:"INFERENCE_SHUTDOWN_TIMEOUT" envDefault:"30s"`
	// PprofAddr, when set, serves net/http/pprof on its own listener; it
	// must be a loopback host:port like the service itself.
	PprofAddr string `env:"INFERENCE_PPROF_ADDR"`
	Version   string `env:"-"`
}

// WithDefaults fills what depends on other fields: under the dev profile an
// unset token is the dev sentinel, except in container mode, which never
// takes it.
func (c Config) WithDefaults() Config {
	if c.AuthToken == "" && c.Profile == "dev" && c.NetworkMode != "container" {
		c.AuthToken = DevToken
	}
	return c
}

// Validate applies the start-up refusals of D11 and D14. In host network
// mode the bind host must be a loopback address in every profile. In
// container mode any bind address is allowed, but the token must be real in
// every profile and AllowedClients must parse (that the process really runs
// in a container is the caller's check: it reads the file system). Under
// prod, and always in container mode, the token must be neither empty, the
// dev sentinel, nor shorter than 32 characters.
func (c Config) Validate() error {
	switch c.Profile {
	case "dev", "prod":
	default:
		return fmt.Errorf("INFERENCE_PROFILE=%q: must be dev or prod", c.Profile)
	}
	switch c.NetworkMode {
	case "host":
		if !IsLoopback(c.Host) {
			return fmt.Errorf("INFERENCE_HOST=%q: the service binds loopback only (127.0.0.0/8, ::1 or localhost); "+
				"inside a container, set INFERENCE_NETWORK_MODE=container (D14)", c.Host)
		}
		if c.AllowedClients != "" {
			return fmt.Errorf("INFERENCE_ALLOWED_CLIENTS applies only under INFERENCE_NETWORK_MODE=container")
		}
	case "container":
		if _, err := ParseClientNetworks(c.AllowedClients); err != nil {
			return err
		}
	default:
		return fmt.Errorf("INFERENCE_NETWORK_MODE=%q: must be host or container", c.NetworkMode)
	}
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("INFERENCE_PORT=%d: out of range", c.Port)
	}
	if c.Profile == "prod" || c.NetworkMode == "container" {
		if err := c.realToken(); err != nil {
			return err
		}
	}
	if c.BodyLimitBytes <= 0 {
		return fmt.Errorf("INFERENCE_BODY_LIMIT_BYTES must be positive")
	}
	if c.PprofAddr != "" {
		host, _, err := net.SplitHostPort(c.PprofAddr)
		if err != nil || !IsLoopback(host) {
			return fmt.Errorf("INFERENCE_PPROF_ADDR=%q: must be a loopback host:port (127.0.0.1:6060, say)", c.PprofAddr)
		}
	}
	return nil
}

// realToken refuses the tokens D11 refuses under prod.
func (c Config) realToken() error {
	under := "INFERENCE_PROFILE=prod"
	if c.NetworkMode == "container" {
		under = "INFERENCE_NETWORK_MODE=container"
	}
	switch {
	case c.AuthToken == "":
		return fmt.Errorf("INFERENCE_AUTH_TOKEN is empty: refused under %s", under)
	case c.AuthToken == DevToken:
		return fmt.Errorf("INFERENCE_AUTH_TOKEN is the dev sentinel: refused under %s", under)
	case len(c.AuthToken) < 32:
		return fmt.Errorf("INFERENCE_AUTH_TOKEN has %d characters, under %s at least 32 are required", len(c.AuthToken), under)
	}
	return nil
}

// IsLoopback reports whether host is a loopback address or "localhost".
func IsLoopback(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Addr is host:port for net.Listen.
func (c Config) Addr() string {
	return net.JoinHostPort(strings.Trim(c.Host, "[]"), fmt.Sprint(c.Port))
}

// Redacted is the config as logged at start-up: the token is never shown.
func (c Config) Redacted() map[string]any {
	token := "<empty>"
	if c.AuthToken != "" {
		token = fmt.Sprintf("<redacted, %d chars>", len(c.AuthToken))
	}
	return map[string]any{
		"profile": c.Profile, "auth_token": token, "host": c.Host, "port": c.Port,
		"network_mode": c.NetworkMode, "allowed_clients": c.AllowedClients,
		"body_limit_bytes": c.BodyLimitBytes, "run_timeout": c.RunTimeout.String(),
		"backfill_timeout": c.BackfillTimeout.String(), "shutdown_timeout": c.ShutdownTimeout.String(),
		"pprof_addr": c.PprofAddr,
	}
}

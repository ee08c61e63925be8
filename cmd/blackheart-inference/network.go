package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/rfkih/blackheart-inference/api"
)

// containerMarkers are the files container engines leave at a container's
// root: Docker's /.dockerenv and podman's /run/.containerenv.
var containerMarkers = []string{".dockerenv", "run/.containerenv"}

// containerMarker names the marker found under root, or "" when there is
// none: INFERENCE_NETWORK_MODE=container is refused then, so that the
// setting copied onto a bare host cannot expose the service (D14).
func containerMarker(root string) string {
	for _, m := range containerMarkers {
		if fi, err := os.Stat(filepath.Join(root, m)); err == nil && fi.Mode().IsRegular() {
			return "/" + m
		}
	}
	return ""
}

// checkNetworkMode is the file-system half of D14: container mode only
// inside a container.
func checkNetworkMode(cfg api.Config, root string) error {
	if cfg.NetworkMode != "container" {
		return nil
	}
	if containerMarker(root) == "" {
		return fmt.Errorf("INFERENCE_NETWORK_MODE=container, but this process is not in a container "+
			"(neither %s/.dockerenv nor %s/run/.containerenv exists); outside a container the service binds loopback only (D11)",
			filepath.Clean(root), filepath.Clean(root))
	}
	return nil
}

// exposeListener applies container mode's client allowlist to ln and logs
// what is exposed; in host mode ln is returned as it is.
func exposeListener(ln net.Listener, cfg api.Config, log *slog.Logger, refused func()) (net.Listener, error) {
	if cfg.NetworkMode != "container" {
		log.Info("listening", "addr", ln.Addr().String(), "network_mode", "host")
		return ln, nil
	}
	nets, err := api.ParseClientNetworks(cfg.AllowedClients)
	if err != nil {
		return nil, err
	}
	source := "INFERENCE_ALLOWED_CLIENTS"
	if len(nets) == 0 {
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			return nil, fmt.Errorf("list the container's interfaces for the default client allowlist: %w", err)
		}
		nets, source = api.InterfaceNetworks(addrs), "the container's interface subnets"
	}
	rl := api.NewRefusalLog(10*time.Second, time.Now, func(remote string, n int) {
		log.Warn("connection refused: client outside the allowlist", "remote", remote, "refused_since_last_line", n)
	})
	filter := api.NewClientFilter(nets, func(remote string) {
		refused()
		rl.Refused(remote)
	})
	log.Info("listening", "addr", ln.Addr().String(), "network_mode", "container",
		"container_marker", containerMarker("/"), "allowed_clients", filter.Networks(), "allowed_clients_from", "loopback + "+source,
		"publish", "only on the host's loopback, as production does: -p 127.0.0.1:"+strconv.Itoa(cfg.Port)+":"+strconv.Itoa(cfg.Port))
	return filter.Listener(ln), nil
}

// runHealthcheck is the image's HEALTHCHECK: GET /readyz on the service's
// own port, exit 0 on 200. Slim images have no curl; the binary asks itself.
func runHealthcheck(ctx context.Context, args []string, environ map[string]string, stdout io.Writer) error {
	if len(args) > 0 {
		return usageError{"healthcheck takes no arguments; it reads INFERENCE_HOST and INFERENCE_PORT"}
	}
	cfg, err := parseConfig(environ)
	if err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	host := cfg.API.Host
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	url := "http://" + net.JoinHostPort(host, strconv.Itoa(cfg.API.Port)) + "/readyz"
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Fprintf(stdout, "%d %s", resp.StatusCode, body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %d", url, resp.StatusCode)
	}
	return nil
}

package storagetest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const templateDB = "bh_template"

// Cluster is one PostgreSQL server owned by the test process.
type Cluster struct {
	dir    string
	bin    string
	asUser string // non-empty when running as root: initdb refuses root
	Port   int
	dbSeq  atomic.Int64
	// durable runs with production durability (fsync, synchronous_commit
	// and full_page_writes on): for benchmarks that report it.
	durable bool
}

// SchemaPath is storage/schema/schema.sql.
func SchemaPath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "schema", "schema.sql")
}

func findBin() (string, error) {
	if b := os.Getenv("PG_BIN"); b != "" {
		return b, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("PostgreSQL server binaries (initdb, pg_ctl) not found: run `make test`, which installs postgresql")
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// NewCluster initialises and starts a cluster (fsync off: tests measure
// behaviour, not disks) and loads the schema into the template database.
// Call Close when done.
func NewCluster() (*Cluster, error) { return newCluster(false) }

// NewDurableCluster is NewCluster with production durability: fsync,
// synchronous_commit and full_page_writes on, as benchmarks must report.
func NewDurableCluster() (*Cluster, error) { return newCluster(true) }

func newCluster(durable bool) (*Cluster, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "bh-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, bin: bin, durable: durable}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs the postgres system user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
		c.asUser = "postgres"
	}
	if out, err := c.cmd("initdb", "-D", c.dataDir(), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	if c.Port, err = freePort(); err != nil {
		return nil, err
	}
	if err := c.Start(); err != nil {
		return nil, err
	}
	if err := c.loadTemplate(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) cmd(name string, args ...string) *exec.Cmd {
	path := filepath.Join(c.bin, name)
	if c.asUser != "" {
		return exec.Command("runuser", append([]string{"-u", c.asUser, "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

// Start starts (or restarts) the server on its port.
func (c *Cluster) Start() error {
	durability := "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	if c.durable {
		durability = "-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 %s -c max_connections=200", c.Port, c.dir, durability)
	out, err := c.cmd("pg_ctl", "-D", c.dataDir(), "-o", opts, "-l", filepath.Join(c.dir, "server.log"), "-w", "-t", "60", "start").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl start: %v: %s", err, out)
	}
	return nil
}

// Stop stops the server; open connections are terminated, as in an outage.
// (A fast shutdown: an immediate one would lose commits, since the test
// cluster runs with synchronous_commit off.)
func (c *Cluster) Stop() error {
	out, err := c.cmd("pg_ctl", "-D", c.dataDir(), "-m", "fast", "-w", "stop").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %v: %s", err, out)
	}
	return nil
}

// Close stops the server and removes its files.
func (c *Cluster) Close() {
	_ = c.Stop()
	_ = os.RemoveAll(c.dir)
}

// DSN is a connection string for database db as the superuser.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

func (c *Cluster) loadTemplate() error {
	schema, err := os.ReadFile(SchemaPath())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := execOn(ctx, c.DSN("postgres"), "CREATE DATABASE "+templateDB); err != nil {
		return err
	}
	return execOn(ctx, c.DSN(templateDB), string(schema))
}

// NewDatabase creates an empty database with the schema for one test and
// returns its DSN. It is dropped when the test ends.
func (c *Cluster) NewDatabase(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("t_%d_%d", os.Getpid(), c.dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := execOn(ctx, c.DSN("postgres"), fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, templateDB)); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = execOn(ctx, c.DSN("postgres"), fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
	})
	return c.DSN(name)
}

func execOn(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Main is a TestMain body: it starts a cluster for the package, runs the
// tests and removes the cluster. A missing PostgreSQL fails the package.
func Main(m *testing.M, cluster **Cluster) int {
	c, err := NewCluster()
	if err != nil {
		fmt.Fprintf(os.Stderr, "storagetest: %v\n", err)
		return 1
	}
	*cluster = c
	defer c.Close()
	return m.Run()
}

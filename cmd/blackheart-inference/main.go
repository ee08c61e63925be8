package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/rfkih/blackheart-inference/inference"
	"github.com/rfkih/blackheart-inference/native"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], envMap(os.Environ()), os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ue usageError
		if !errors.As(err, &ue) && !errors.Is(err, errReported) {
			fmt.Fprintf(os.Stderr, "blackheart-inference: %v\n", err)
		}
		if errors.As(err, &ue) {
			fmt.Fprintf(os.Stderr, "blackheart-inference: %s\n\n%s", ue.msg, usage)
			os.Exit(2)
		}
		os.Exit(1)
	}
}

const usage = `usage:
  blackheart-inference [serve]            serve HTTP (configured by INFERENCE_* variables)
  blackheart-inference artifact verify --dir DIR [SHA ...]
  blackheart-inference artifact verify --store URL [--dir CACHE] [SHA ...]
  blackheart-inference artifact prefetch [--store URL] [--dir CACHE]   (signals from INFERENCE_DB_DSN)
  blackheart-inference predict --dir DIR --sha SHA [--raw] < rows.csv
  blackheart-inference explain --dir DIR --sha SHA < rows.csv
  blackheart-inference drift --signal ID [--live-days N] [--json]   (database from INFERENCE_DB_DSN)
  blackheart-inference vintage --dir DIR --sha SHA [--window START END] [--interval 1h]
  blackheart-inference vintage --signal ID   (audits signal_history; database from INFERENCE_DB_DSN)
  blackheart-inference performance --signal ID [--window-days N] [--json]   (database from INFERENCE_DB_DSN)
  blackheart-inference healthcheck       GET /readyz on INFERENCE_HOST:INFERENCE_PORT; exit 0 when ready
`

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// errReported means the command already wrote its own failure report.
var errReported = errors.New("failures reported")

// run is the whole program; main only adds the process around it.
func run(ctx context.Context, args []string, environ map[string]string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return runServe(ctx, nil, environ, stdout)
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], environ, stdout)
	case "artifact":
		if len(args) == 2 && isHelp(args[1]) {
			fmt.Fprint(stdout, usage)
			return nil
		}
		switch {
		case len(args) >= 2 && args[1] == "verify":
			return runVerify(ctx, args[2:], stdout)
		case len(args) >= 2 && args[1] == "prefetch":
			return runPrefetch(ctx, args[2:], environ, stdout)
		}
		return usageError{"artifact takes the subcommand verify or prefetch"}
	case "predict":
		return runPredict(ctx, args[1:], stdin, stdout)
	case "explain":
		return runExplain(ctx, args[1:], stdin, stdout)
	case "drift":
		return runDrift(ctx, args[1:], environ, stdout)
	case "vintage":
		return runVintage(ctx, args[1:], environ, stdout)
	case "performance":
		return runPerformance(ctx, args[1:], environ, stdout)
	case "healthcheck":
		return runHealthcheck(ctx, args[1:], environ, stdout)
	case "version", "--version", "-version":
		b := buildInfo()
		fmt.Fprintf(stdout, "blackheart-inference %s (%s build; lightgbm: %s, xgboost: %s; %s)\n",
			b.Version, b.Flavour, b.LightGBM, b.XGBoost, runtime.Version())
		return nil
	}
	if isHelp(args[0]) {
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help" || arg == "help"
}

// flagError turns a subcommand's flag parse failure into its answer: help
// asked for prints the subcommand's flags and succeeds; anything else is a
// usage error.
func flagError(err error, stdout io.Writer, name string, fs *flag.FlagSet) error {
	if !errors.Is(err, flag.ErrHelp) {
		return usageError{err.Error()}
	}
	fmt.Fprintf(stdout, "usage of %s:\n", name)
	fs.SetOutput(stdout)
	fs.PrintDefaults()
	return nil
}

// loaders are the native twins this binary was built with.
var loaders = inference.Loaders{
	LightGBM: func(text string, numIteration int) (inference.Model, error) {
		return native.LoadLightGBM(text, native.Options{NumIteration: numIteration})
	},
	XGBoost: func(snapshot []byte) (inference.Model, error) {
		return native.LoadXGBoost(snapshot, native.XGBOptions{})
	},
}

// goLoaders are goeval's exact pure-Go evaluators (in the pure-Go build they
// are also what loaders load).
var goLoaders = inference.Loaders{
	LightGBM: func(text string, numIteration int) (inference.Model, error) {
		return native.LoadGoLightGBM(text, native.Options{NumIteration: numIteration})
	},
	XGBoost: func(snapshot []byte) (inference.Model, error) {
		return native.LoadGoXGBoost(snapshot, native.XGBOptions{})
	},
}

// evaluatorName is INFERENCE_EVALUATOR as it takes effect.
func evaluatorName(v string) string {
	if v != "" {
		return v
	}
	if native.Flavor == "cgo" {
		return "native"
	}
	return "go"
}

// loadersFor is INFERENCE_EVALUATOR: "" is the build's own evaluator.
func loadersFor(evaluator string) (inference.Loaders, error) {
	evaluator = evaluatorName(evaluator)
	switch {
	case evaluator == "native" && native.Flavor == "cgo":
		return loaders, nil
	case evaluator == "go":
		return goLoaders, nil
	case evaluator == "cross-check" && native.Flavor == "cgo":
		l := loaders
		l.CrossCheck = &inference.CrossCheck{Go: goLoaders}
		return l, nil
	case evaluator == "native" || evaluator == "cross-check":
		return inference.Loaders{}, fmt.Errorf("INFERENCE_EVALUATOR=%s needs the cgo build; this is the pure-Go build (use go)", evaluator)
	}
	return inference.Loaders{}, fmt.Errorf("INFERENCE_EVALUATOR=%q: want native, go or cross-check", evaluator)
}

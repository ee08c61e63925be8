package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const (
	module      = "github.com/rfkih/blackheart-inference"
	maxFileLine = 400
	maxFuncLine = 80
)

// forbidden lists, per package, the import path prefixes it must never
// depend on, directly or not (the doc.go of each package says why).
var forbidden = map[string][]string{
	"inference":                   {"github.com/", "golang.org/", module + "/"},
	"inference/artifact":          {module + "/storage", module + "/api", module + "/native", "github.com/jackc/", "github.com/gorilla/", "github.com/dmitryikh/"},
	"inference/artifact/objstore": {module + "/storage", module + "/api", module + "/native", "github.com/jackc/", "github.com/gorilla/", "github.com/dmitryikh/"},
	"storage":                     {module + "/api", module + "/native", module + "/inference/artifact", "github.com/gorilla/", "github.com/nlpodyssey/", "github.com/dmitryikh/"},
	"api":                         {module + "/storage", module + "/native", module + "/inference/artifact", "github.com/jackc/", "github.com/nlpodyssey/", "github.com/dmitryikh/"},
	"api/metrics":                 {module + "/storage", module + "/native", module + "/inference/artifact", "github.com/jackc/", "github.com/nlpodyssey/", "github.com/dmitryikh/"},
	"native":                      {module + "/storage", module + "/api", module + "/inference/artifact", "github.com/jackc/", "github.com/gorilla/", "github.com/nlpodyssey/"},
}

// allowed are exceptions to the prefixes above (a package's own path).
var allowed = map[string][]string{
	"inference": {module + "/inference"},
}

type pkg struct {
	ImportPath string
	Deps       []string
	CgoFiles   []string
}

func main() {
	var problems []string
	for _, env := range [][]string{nil, {"CGO_ENABLED=0"}} {
		p, err := checkDeps(env)
		if err != nil {
			fmt.Fprintln(os.Stderr, "lint:", err)
			os.Exit(2)
		}
		problems = append(problems, p...)
	}
	p, err := checkSizes(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "lint:", err)
		os.Exit(2)
	}
	problems = append(problems, p...)
	for _, p := range problems {
		fmt.Println(p)
	}
	if len(problems) > 0 {
		fmt.Printf("lint: %d problem(s)\n", len(problems))
		os.Exit(1)
	}
	fmt.Println("lint: import rules, cgo confinement, file and function sizes hold")
}

// checkDeps runs go list -deps for every package in the module.
func checkDeps(env []string) ([]string, error) {
	cmd := exec.Command("go", "list", "-json=ImportPath,Deps,CgoFiles", "./...")
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go list: %w", err)
	}
	flavour := "cgo"
	if len(env) > 0 {
		flavour = "CGO_ENABLED=0"
	}
	var problems []string
	dec := json.NewDecoder(&out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		if len(p.CgoFiles) > 0 && rel != "native" {
			problems = append(problems, fmt.Sprintf("%s: uses cgo (%s); cgo lives only in native/", rel, strings.Join(p.CgoFiles, ", ")))
		}
		for _, dep := range p.Deps {
			if bad := violates(rel, dep); bad != "" {
				problems = append(problems, fmt.Sprintf("%s (%s): depends on %s, which it must never import (%s)", rel, flavour, dep, bad))
			}
		}
	}
	return problems, nil
}

func violates(rel, dep string) string {
	for _, ok := range allowed[rel] {
		if dep == ok || strings.HasPrefix(dep, ok+"/internal") {
			return ""
		}
	}
	for _, prefix := range forbidden[rel] {
		if strings.HasPrefix(dep, prefix) {
			return prefix + "*"
		}
	}
	return ""
}

// checkSizes walks the non-test Go files outside third_party.
func checkSizes(root string) ([]string, error) {
	var problems []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", ".venv", "third_party", "build", "bin", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		if n := fset.File(f.Pos()).LineCount(); n > maxFileLine {
			problems = append(problems, fmt.Sprintf("%s: %d lines (at most %d)", path, n, maxFileLine))
		}
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			if n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1; n > maxFuncLine {
				problems = append(problems, fmt.Sprintf("%s: func %s is %d lines (at most %d)", path, fd.Name.Name, n, maxFuncLine))
			}
		}
		return nil
	})
	return problems, err
}

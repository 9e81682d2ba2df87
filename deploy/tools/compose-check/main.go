// compose-check loads a Compose file the way `docker compose` does (compose-go: YAML parsing, the
// Compose Specification JSON schema, interpolation from an env file, normalization and the consistency
// check of references between services, networks, volumes and secrets) without a Docker engine, and
// prints the resolved project as JSON on stdout.
//
//	compose-check [--env-file FILE]... [--profile NAME]... COMPOSE_FILE...
//
// Exit status 0: valid; 1: invalid (one line on stderr naming the file and the problem); 2: bad usage.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var envFiles, profiles listFlag
	flag.Var(&envFiles, "env-file", "env file used for interpolation (repeatable)")
	flag.Var(&profiles, "profile", "profile to enable (repeatable; '*' enables all)")
	flag.Parse()
	files := flag.Args()
	if len(files) == 0 {
		fmt.Fprintln(os.Stderr, "usage: compose-check [--env-file FILE]... [--profile NAME]... COMPOSE_FILE...")
		os.Exit(2)
	}
	workDir, err := filepath.Abs(filepath.Dir(files[0]))
	if err != nil {
		fail("cannot resolve the directory of %s: %v", files[0], err)
	}
	options, err := cli.NewProjectOptions(files,
		cli.WithWorkingDirectory(workDir),
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
		cli.WithProfiles(profiles),
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		fail("%s: %v", strings.Join(files, ","), err)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fail("%s: %v", strings.Join(files, ","), err)
	}
	out, err := json.MarshalIndent(project, "", "  ")
	if err != nil {
		fail("cannot print the project: %v", err)
	}
	fmt.Println(string(out))
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "compose-check: "+format+"\n", args...)
	os.Exit(1)
}

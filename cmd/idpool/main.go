// Command idpool runs idpool's simulation, benchmarks, demo and simulated SQL
// Server:
//
//	idpool sim     run a workload through the pool and check its invariants
//	idpool bench   measure idpool side by side with other pools
//	idpool tds     serve the simulated SQL Server and its Entra ID on loopback
//	idpool demo    a short workload on the in-memory database
//
// Run "idpool <command> --help" for what a command does, examples and its
// flags. Exit codes: 0 success, 1 the command ran and failed, 2 a bad
// command line (nothing was run).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand: it parses its own flags from args. Its --help
// goes to stdout; it returns flag.ErrHelp after printing it, or the error
// of writing it.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func main() {
	// SIGTERM too, so that `idpool tds` removes its certificate file when a
	// supervisor (CI, timeout, systemd) stops it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go quitOnSecondSignal(ctx, stop, os.Stderr)
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// quitOnSecondSignal gives the signals back to the OS once the first has
// ended ctx. The command then finishes what is in flight, which can take a
// while (a live sim waits for every lease's hold and slow query, up to a
// minute each), and a second Ctrl-C used to be caught and dropped: only
// SIGKILL ended the process. Now it ends it at once, as a signal does,
// without a report.
func quitOnSecondSignal(ctx context.Context, stop context.CancelFunc, stderr io.Writer) {
	<-ctx.Done()
	stop()
	fmt.Fprintln(stderr, "idpool: stopping (interrupt again to quit at once)")
}

// run runs the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	if isHelpWord(args[0]) {
		switch {
		case len(args) > 2:
			fmt.Fprintf(stderr, "idpool %s: unexpected arguments %q: give at most one command\n\n", args[0], args[2:])
			usage(stderr)
			return exitUsage
		case len(args) == 2 && !isHelpWord(args[1]):
			// idpool help sim == idpool sim --help
			return run(ctx, []string{args[1], "--help"}, stdout, stderr)
		}
		// idpool help, and idpool help help or --help -h: forwarding the
		// second word as a command would recurse without end.
		if err := writeHelp(stdout, usage); err != nil {
			fmt.Fprintf(stderr, "idpool: %v\n", err)
			return exitFailed
		}
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "idpool: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	err := cmd.run(ctx, args[1:], stdout, stderr)
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "idpool %s: %v\n", args[0], err)
		return exitUsage
	}
	fmt.Fprintf(stderr, "idpool %s: %v\n", args[0], err)
	return exitFailed
}

func isHelpWord(s string) bool {
	switch s {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "idpool: an identity-aware SQL connection pool's simulation, benchmarks and simulated SQL Server.")
	fmt.Fprintln(w, "\nusage: idpool <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-6s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun \"idpool <command> --help\" (or \"idpool help <command>\") for what a command does, examples and its flags.")
	fmt.Fprintf(w, "\n%s\n", exitCodesHelp)
}

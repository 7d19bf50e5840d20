package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/google/renameio/v2"
)

// Exit codes, the same for every command.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// exitCodesHelp is printed by `idpool --help` and every command's --help.
const exitCodesHelp = `Exit codes:
  0  success (sim: every invariant held, or the injected bug was caught)
  1  the command ran and failed (sim: an invariant was violated, or the
     run was interrupted; demo: a query reached another identity's
     connection, or a connection stayed open after Close; bench, demo: it
     was interrupted, after printing (and bench writing) what finished;
     sim, bench: an output file could not be written; tds: how to
     connect could not be written; --help: the help could not be
     written)
  2  bad command line: unknown command or flag, or a flag value refused
     before any work started (nothing was run)`

// usageError is a command line refused before any work started: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// help describes a command for its --help.
type help struct {
	name, summary string
	// description says what the command does, in a few lines.
	description string
	// examples are command lines with a comment each.
	examples []string
	// more, if set, prints more flags after the command's own (those of
	// another mode of the command).
	more func(w io.Writer)
}

// writeHelp writes the help text print builds to w in one write, and
// returns the write's error: `idpool --help > /dev/full` exited 0 with
// nothing written, where `idpool demo > /dev/full` fails.
func writeHelp(w io.Writer, print func(io.Writer)) error {
	var b bytes.Buffer
	print(&b)
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("writing the help: %w", err)
	}
	return nil
}

// cliFlags is a command's flag set and the --help that goes with it.
type cliFlags struct {
	*flag.FlagSet
	// printHelp writes the --help to stdout and returns writeHelp's error.
	printHelp func() error
	// limits are the ranges of its numeric flags, checked by parse.
	limits limits
}

// limit sets the ranges of the flags registered so far and adds them to
// their --help lines.
func (fs *cliFlags) limit(ls limits) {
	fs.limits = ls
	ls.document(fs.FlagSet)
}

// newFlagSet returns a flag set whose --help prints h, the flags and the exit
// codes to stdout, and whose parse errors are returned, not printed, so that
// run prints them once, with the exit code they deserve.
func newFlagSet(h help, stdout io.Writer) *cliFlags {
	fs := flag.NewFlagSet(h.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // the flag package calls it on errors too
	printHelp := func() error {
		return writeHelp(stdout, func(w io.Writer) {
			fmt.Fprintf(w, "usage: idpool %s [flags]\n\n%s\n\n", h.name, strings.TrimSpace(h.description))
			if len(h.examples) > 0 {
				fmt.Fprintln(w, "Examples:")
				for _, e := range h.examples {
					fmt.Fprintf(w, "  %s\n", e)
				}
				fmt.Fprintln(w)
			}
			fmt.Fprintln(w, "Flags:")
			fs.SetOutput(w)
			fs.PrintDefaults()
			fs.SetOutput(io.Discard)
			if h.more != nil {
				h.more(w)
			}
			fmt.Fprintf(w, "\n%s\n", exitCodesHelp)
		})
	}
	return &cliFlags{FlagSet: fs, printHelp: printHelp}
}

// parse parses args; --help prints the help and returns flag.ErrHelp (or
// the error of writing it), and any other problem is a usageError naming it.
func (fs *cliFlags) parse(args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			if werr := fs.printHelp(); werr != nil {
				return werr
			}
			return err
		}
		return usagef("%v%s (idpool %s --help lists the flags)", err, durationHint(fs.FlagSet, err), fs.Name())
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q: every setting is a flag (idpool %s --help)", fs.Args(), fs.Name())
	}
	if err := checkNumbers(fs.FlagSet); err != nil {
		return err
	}
	return fs.limits.check(fs.FlagSet)
}

// badValue finds the flag of the flag package's "invalid value" error.
var badValue = regexp.MustCompile(`^invalid value ".*" for flag -([\w-]+): `)

// durationHint adds what the flag package's bare "parse error" leaves out
// when a duration flag's value was refused: --duration 5 wants a unit. The
// user saw `invalid value "5" for flag -duration: parse error`.
func durationHint(fs *flag.FlagSet, err error) string {
	m := badValue.FindStringSubmatch(err.Error())
	if m == nil {
		return ""
	}
	f := fs.Lookup(m[1])
	if f == nil {
		return ""
	}
	if g, ok := f.Value.(flag.Getter); ok {
		if _, ok := g.Get().(time.Duration); ok {
			return ": want a duration with a unit, as in 300ms, 5s or 2m"
		}
	}
	return ""
}

// checkNumbers refuses the values no flag of idpool means: a negative
// duration, and a float that is not a finite number (strconv reads "NaN" and
// "Inf"). Each command's own checks compare against bounds, and NaN passes
// every comparison: --zipf NaN ran forever, --rate NaN counted a million
// violations, and --mailbox-latency -1s panicked in the virtual simulator.
func checkNumbers(fs *flag.FlagSet) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		g, ok := f.Value.(flag.Getter)
		if err != nil || !ok {
			return
		}
		switch v := g.Get().(type) {
		case time.Duration:
			if v < 0 {
				err = usagef("--%s %s: must not be negative", f.Name, v)
			}
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				err = usagef("--%s %v: want a finite number", f.Name, v)
			}
		}
	})
	return err
}

// flagSet reports whether the command line set the named flag.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// checkOutputFile refuses, before any work, a --flag path the command could
// not write its output to at the end: a missing directory, a directory in
// place of the file, or a directory it may not create files in.
func checkOutputFile(flagName, path string) error {
	if path == "" {
		return nil
	}
	if path == "-" {
		// The usual name of the standard output, which an output flag
		// does not take: say what does.
		return usagef("--%s -: \"-\" is not the standard output here: name it /dev/stdout (or ./- for a file named \"-\")", flagName)
	}
	if strings.HasPrefix(path, "-") {
		// The flag package gives a flag without its value the next
		// argument: --json-file --quick ran the full bench into a file
		// named "--quick".
		return usagef("--%s %q: a flag, not a file name: --%s needs a file (./%s for a file of that name)", flagName, path, flagName, path)
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil {
		return usagef("--%s %s: directory %s does not exist", flagName, path, dir)
	}
	if !st.IsDir() {
		return usagef("--%s %s: %s is not a directory", flagName, path, dir)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return usagef("--%s %s: is a directory, want a file", flagName, path)
	}
	f, err := os.CreateTemp(dir, ".idpool-write-check-*")
	if err != nil {
		return usagef("--%s %s: cannot create files in %s: %v", flagName, path, dir, err)
	}
	name := f.Name()
	_ = f.Close()
	_ = os.Remove(name)
	return nil
}

// samePath reports whether a and b name one file: the same path once made
// absolute and clean, or, when both exist, the same file by another name
// (a link).
func samePath(a, b string) bool {
	absA, errA := filepath.Abs(a)
	absB, errB := filepath.Abs(b)
	if errA == nil && errB == nil && absA == absB {
		return true
	}
	stA, errA := os.Stat(a)
	stB, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(stA, stB)
}

// writeFile writes path with write. An output file is written after the
// run: its error names the flag, and the caller reports it beside the run's
// other outputs instead of in their place. It is written to a temporary file
// beside path and renamed onto it once complete, so that a write that fails
// halfway (a full disk, a file size limit) leaves no report cut off under
// the name of a complete one, and keeps the file that was there before.
func writeFile(flagName, path string, write func(io.Writer) error) error {
	if err := writeWhole(path, write); err != nil {
		return fmt.Errorf("--%s: %w", flagName, err)
	}
	return nil
}

// outputPerm is a new output file's mode, as os.Create's 0666 under the
// usual umask: others read a report too (a browser, a CI artefact upload),
// and the temporary file's 0600 would keep it from them. A file replaced
// keeps its own mode instead, as os.Create keeps it: a report the user made
// private (0600) must not come back readable by everyone.
const outputPerm = 0o644

func writeWhole(path string, write func(io.Writer) error) error {
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		// A device or a pipe (--report /dev/stdout): written in place,
		// as nothing can be renamed onto it.
		return writeInPlace(path, write)
	}
	named := path // what the user asked for, and what errors name
	// A link to the report is kept a link: the report replaces the file it
	// points to, or creates it, as os.Create would.
	path, err := linkTarget(path)
	if err != nil {
		return &fs.PathError{Op: "open", Path: named, Err: err}
	}
	// renameio writes a temporary file beside path and renames it onto
	// path only once complete (fsynced); Cleanup removes it otherwise.
	// WithTempDir keeps it beside path: renameio's default is $TMPDIR
	// when that is on the same file system.
	f, err := renameio.NewPendingFile(path, renameio.WithTempDir(filepath.Dir(path)),
		renameio.WithPermissions(outputPerm), renameio.WithExistingPermissions())
	if err != nil {
		return nameUserPath(err, path, named)
	}
	defer func() { _ = f.Cleanup() }() // a no-op once replaced
	err = write(f)
	if err == nil {
		err = f.CloseAtomicallyReplace()
	}
	return nameUserPath(err, path, named)
}

// linkTarget returns the name path's links lead to: path itself when it is
// no link, and the last name of the chain when that names no file yet (a
// link made before the first run), which filepath.EvalSymlinks refuses.
// A chain too long (a loop) fails as os.Create fails on it: renamed onto,
// its first link would be replaced by the report.
func linkTarget(path string) (string, error) {
	for range 40 { // Linux's own limit on links followed
		st, err := os.Lstat(path)
		if err != nil || st.Mode()&os.ModeSymlink == 0 {
			return path, nil
		}
		to, err := os.Readlink(path)
		if err != nil {
			return path, nil
		}
		if !filepath.IsAbs(to) {
			to = filepath.Join(filepath.Dir(path), to)
		}
		path = to
	}
	return "", syscall.ELOOP
}

// nameUserPath makes err, from writing path through a temporary file beside
// it, name the file the user named instead of the temporary one (renameio's
// ".NAME" and a random number), which the user never gave and which is gone
// by the time they read the error: an open (the directory is gone or
// read-only), a write, a sync, a close or the rename.
func nameUserPath(err error, path, named string) error {
	if err == nil {
		return nil
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path))
	var le *os.LinkError
	if errors.As(err, &le) && strings.HasPrefix(le.Old, tmp) {
		return &fs.PathError{Op: "replace", Path: named, Err: le.Err}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) && strings.HasPrefix(pe.Path, tmp) {
		pe.Path = named
	}
	return err
}

func writeInPlace(path string, write func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	return errors.Join(write(f), f.Close())
}

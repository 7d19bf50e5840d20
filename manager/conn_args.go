package manager

import (
	"database/sql/driver"
	"fmt"
)

// Arguments checked before the lease is known.
//
// database/sql converts a call's arguments (CheckNamedValue) before it makes
// the call, and on a facade shell the call is what picks the lease: a shell
// that database/sql's connection opener made with a ctx of its own, and
// handed to a waiting call without a reset (SetMaxOpenConns, after a
// connection went bad or expired while calls waited), holds no lease yet, or
// holds the default identity's until the call names another. Checked then,
// the arguments met database/sql's default conversion instead of the
// driver's (pgx's slices, go-mssqldb's sql.Out and DateTimeOffset: "unsupported
// type"), or the checker of a connection the call then gave back, which
// for go-mssqldb keeps the output parameters and return status it records
// (a later query of that connection's next lease would write into this
// caller's variables). So CheckNamedValue leaves them as they are, and the
// call converts them once it has its lease, as database/sql would have.

// deferArgs marks the shell's next call as carrying unconverted arguments.
func (c *Conn) deferArgs() { c.shell.argsUnchecked = true }

// takeDeferredArgs reports, and clears, whether the call now running
// carries arguments CheckNamedValue left unconverted.
func (c *Conn) takeDeferredArgs() bool {
	if c.shell == nil || !c.shell.argsUnchecked {
		return false
	}
	c.shell.argsUnchecked = false
	return true
}

// convertArgs converts args as database/sql does for a connection (its
// driverArgsConnLocked without a statement): the driver connection's
// NamedValueChecker, and the default conversion where it has none or it
// answers driver.ErrSkip; an argument it answers driver.ErrRemoveArgument
// for is dropped and the ordinals renumbered. The caller is inside the
// guard.
func (l *Lease) convertArgs(args []driver.NamedValue) ([]driver.NamedValue, error) {
	nvc, _ := l.raw.(driver.NamedValueChecker)
	out := args[:0]
	for _, nv := range args {
		nv.Ordinal = len(out) + 1
		err := driver.ErrSkip
		if nvc != nil {
			err = nvc.CheckNamedValue(&nv)
		}
		if err == driver.ErrSkip {
			nv.Value, err = driver.DefaultParameterConverter.ConvertValue(nv.Value)
		}
		switch err {
		case nil:
			out = append(out, nv)
		case driver.ErrRemoveArgument:
		default:
			return nil, fmt.Errorf("sql: converting argument %s type: %w", describeArg(nv), err)
		}
	}
	return out, nil
}

// describeArg names an argument as database/sql's conversion errors do.
func describeArg(nv driver.NamedValue) string {
	if nv.Name == "" {
		return fmt.Sprintf("$%d", nv.Ordinal)
	}
	return fmt.Sprintf("with name %q", nv.Name)
}

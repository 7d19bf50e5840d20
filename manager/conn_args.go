package manager

import (
	"database/sql"
	"database/sql/driver"
	"fmt"
	"reflect"
)

// Arguments checked before the lease is known.
//
// database/sql converts a call's arguments (CheckNamedValue) before it makes
// the call, and on a facade shell the call is what picks the lease: a shell
// that database/sql's connection opener made with a ctx of its own, and
// handed to a waiting call without a reset (SetMaxOpenConns, after a
// connection went bad or expired while calls waited), holds no lease yet, or
// holds the default identity's until the call names another; and a shell's
// statement is prepared on the lease the call runs on only as the call
// runs. Checked then, the arguments met database/sql's default conversion
// instead of the driver's (pgx's slices, go-mssqldb's sql.Out and
// DateTimeOffset: "unsupported type"), or the checker of a connection the
// call then gave back, which for go-mssqldb keeps the output parameters and
// return status it records (a later query of that connection's next lease
// would write into this caller's variables). And a call the guard refuses,
// because its ctx names another identity than the lease of the *sql.Conn,
// *sql.Tx or *sql.Stmt it was made on, had its arguments checked on that
// lease's connection all the same: bob's output variables stayed on alice's
// connection, for her next query to write into. So on a facade connection
// CheckNamedValue leaves them as they are, and the call converts them once
// it has its lease and statement and the guard has admitted its ctx, as
// database/sql would have.

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

// convertArgs converts args as database/sql's driverArgsConnLocked does:
// nvc (the statement's checker, or the connection's), then cci (a
// statement's deprecated ColumnConverter) where nvc answers driver.ErrSkip,
// then the default conversion; an argument answered
// driver.ErrRemoveArgument is dropped and the ordinals renumbered; want,
// unless -1, is the number of arguments the statement takes. Errors read
// as database/sql's. l is the lease the call runs on, inside its guard.
//
// A conversion that fails after the driver's checker took an argument it
// must keep for the query (an output parameter, sql.Out, or one it removed
// from the list, as go-mssqldb removes a *mssql.ReturnStatus or a
// sqlexp.ReturnMessage) breaks the lease, so that its connection is closed
// rather than reused: go-mssqldb records those on its connection as it
// meets them, and only a query (or a Begin, Commit or Rollback) clears
// them, not its ResetSession. The call fails before any query, and the
// connection's next lease, another request of the identity, had its query
// write into the failed caller's variables (or send its results to his
// message queue). Plain values are converted without such state (pgx's
// checker takes every value), and their conversion errors keep the
// connection.
//
//lint:ignore SA1019 database/sql's conversion consults a ColumnConverter, so this does
func (l *Lease) convertArgs(nvc driver.NamedValueChecker, cci driver.ColumnConverter, want int, args []driver.NamedValue) ([]driver.NamedValue, error) {
	out := args[:0]
	kept := false // the driver's checker took an argument it keeps for the query
	for _, nv := range args {
		nv.Ordinal = len(out) + 1
		err := driver.ErrSkip
		if nvc != nil {
			_, output := nv.Value.(sql.Out)
			err = nvc.CheckNamedValue(&nv)
			kept = kept || output && err != driver.ErrSkip || err == driver.ErrRemoveArgument
		}
		if err == driver.ErrSkip && cci != nil {
			err = columnConvert(cci, want, &nv)
		}
		if err == driver.ErrSkip {
			nv.Value, err = driver.DefaultParameterConverter.ConvertValue(nv.Value)
		}
		switch err {
		case nil:
			out = append(out, nv)
		case driver.ErrRemoveArgument:
		default:
			if kept {
				l.markBroken()
			}
			return nil, fmt.Errorf("sql: converting argument %s type: %w", describeArg(nv), err)
		}
	}
	if want != -1 && len(out) != want {
		if kept {
			l.markBroken()
		}
		return nil, fmt.Errorf("sql: expected %d arguments, got %d", want, len(out))
	}
	return out, nil
}

// columnConvert is database/sql's ColumnConverter check (its ccChecker).
//
//lint:ignore SA1019 database/sql's conversion consults a ColumnConverter, so this does
func columnConvert(cci driver.ColumnConverter, want int, nv *driver.NamedValue) error {
	index := nv.Ordinal - 1
	if want >= 0 && want <= index {
		return nil
	}
	if vr, ok := nv.Value.(driver.Valuer); ok {
		sv, err := valuerValue(vr)
		if err != nil {
			return err
		}
		if !driver.IsValue(sv) {
			return fmt.Errorf("non-subset type %T returned from Value", sv)
		}
		nv.Value = sv
	}
	arg := nv.Value
	var err error
	if nv.Value, err = cci.ColumnConverter(index).ConvertValue(arg); err != nil {
		return err
	}
	if !driver.IsValue(nv.Value) {
		return fmt.Errorf("driver ColumnConverter error converted %T to unsupported type %T", arg, nv.Value)
	}
	return nil
}

// valuerValue is database/sql's callValuerValue: a nil pointer whose
// element type has a value-receiver Value is NULL, not a nil dereference.
func valuerValue(vr driver.Valuer) (driver.Value, error) {
	if rv := reflect.ValueOf(vr); rv.Kind() == reflect.Pointer && rv.IsNil() &&
		rv.Type().Elem().Implements(reflect.TypeFor[driver.Valuer]()) {
		return nil, nil
	}
	return vr.Value()
}

// describeArg names an argument as database/sql's conversion errors do.
func describeArg(nv driver.NamedValue) string {
	if nv.Name == "" {
		return fmt.Sprintf("$%d", nv.Ordinal)
	}
	return fmt.Sprintf("with name %q", nv.Name)
}

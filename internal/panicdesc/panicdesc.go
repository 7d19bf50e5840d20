// Package panicdesc describes a recovered panic of user code (a Dialer, a
// token source, a hook) for an error or a log line without printing its
// value: the value may hold anything the panicking code had at hand, a token
// or a DSN among them, and idpool prints no secret. A runtime error is the
// exception: its message comes from the Go runtime, not from the code that
// panicked, and names the fault (a nil dereference, an index out of range).
package panicdesc

import (
	"fmt"
	"reflect"
	"runtime"
)

// Describe returns what may be printed of r, a value recover returned: the
// message of an error the Go runtime raised, or else only r's type.
func Describe(r any) string {
	if re, ok := r.(runtime.Error); ok && raisedByRuntime(re) {
		return re.Error()
	}
	return fmt.Sprintf("a value of type %T (not shown: it may hold a secret)", r)
}

// raisedByRuntime reports whether err's type is declared in package runtime:
// any other type may implement runtime.Error and say anything.
func raisedByRuntime(err runtime.Error) bool {
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.PkgPath() == "runtime"
}

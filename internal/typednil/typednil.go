// Package typednil tells whether an interface value holds a nil pointer (or
// another nil reference). That is what a constructor's result looks like
// when it was kept although the constructor returned an error (cred, _ :=
// azidentity.NewManagedIdentityCredential(...)): not == nil, so it passes
// for set, and the first call on it panics far from the mistake. manager's
// Config and tokens' constructors refuse such values by name.
package typednil

import "reflect"

// Is reports whether v is an interface holding a nil pointer, map, slice,
// func, channel or interface. An untyped nil is not one: callers that refuse
// it too check v == nil first.
func Is(v any) bool {
	if v == nil {
		return false
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

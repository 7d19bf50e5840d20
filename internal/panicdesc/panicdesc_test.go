package panicdesc

import (
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
)

func recovered(f func()) (r any) {
	defer func() { r = recover() }()
	f()
	return nil
}

func TestDescribeShowsARuntimeErrorsMessage(t *testing.T) {
	var m map[string]int
	var p *struct{ x int }
	s := []int{1}
	i := 3
	for _, f := range []func(){
		func() { m["x"] = 1 },
		func() { _ = p.x },
		func() { _ = s[i] },
	} {
		r := recovered(f)
		_, isRuntime := r.(runtime.Error)
		assert.True(t, isRuntime)
		assert.Equal(t, r.(error).Error(), Describe(r))
	}
}

func TestDescribeNeverPrintsAnotherValue(t *testing.T) {
	const secret = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.secret-token"
	type holder struct{ Token string }
	for _, r := range []any{
		secret,
		errors.New("login failed with " + secret),
		fmt.Errorf("wrapped: %w", errors.New(secret)),
		holder{secret},
		&holder{secret},
		[]byte(secret),
	} {
		got := Describe(r)
		assert.NotContains(t, got, "secret-token", "%T", r)
		assert.Contains(t, got, fmt.Sprintf("%T", r))
	}
}

// posing is an error of user code that implements runtime.Error: its
// message is the panicking code's, so it is not shown.
type posing struct{ msg string }

func (p posing) Error() string { return p.msg }
func (posing) RuntimeError()   {}

func TestDescribeTrustsOnlyTheRuntimesOwnErrors(t *testing.T) {
	for _, r := range []any{posing{"secret-token"}, &posing{"secret-token"}} {
		got := Describe(r)
		assert.NotContains(t, got, "secret-token")
		assert.Contains(t, got, "posing")
	}
}

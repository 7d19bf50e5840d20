package typednil

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
)

type source interface {
	Token(context.Context) (string, error)
}

type pointerSource struct{}

func (*pointerSource) Token(context.Context) (string, error) { return "", nil }

type funcSource func(context.Context) (string, error)

func (f funcSource) Token(ctx context.Context) (string, error) { return f(ctx) }

func TestIs(t *testing.T) {
	var nilPtr *pointerSource
	var nilFunc funcSource
	var nilIface source
	for name, tc := range map[string]struct {
		v    any
		want bool
	}{
		"untyped nil":            {nil, false},
		"nil interface variable": {nilIface, false},
		"nil pointer in iface":   {source(nilPtr), true},
		"nil func in iface":      {source(nilFunc), true},
		"nil map":                {map[string]int(nil), true},
		"nil slice":              {[]int(nil), true},
		"nil chan":               {(chan int)(nil), true},
		"pointer":                {&pointerSource{}, false},
		"func":                   {funcSource(func(context.Context) (string, error) { return "", nil }), false},
		"value":                  {42, false},
		"empty struct value":     {struct{}{}, false},
	} {
		assert.Equal(t, tc.want, Is(tc.v), name)
	}
}

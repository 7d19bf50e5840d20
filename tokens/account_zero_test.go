package tokens_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/idpool/idpool/tokens"
)

// TestAFailedAccountConstructorsResultIsRefused: NewDeviceCodeAccount and
// the others return a nil *Account with their error; kept anyway
// (acct, _ := tokens.NewDeviceCodeAccount(o)), or made with new, it must
// say what is wrong, as a nil or zero *OnBehalfOf does, not panic with a
// nil dereference at the first request.
func TestAFailedAccountConstructorsResultIsRefused(t *testing.T) {
	for name, a := range map[string]*tokens.Account{"nil": nil, "zero": new(tokens.Account)} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			assert.NotPanics(t, func() {
				id, err := a.Identity(ctx)
				assert.ErrorIs(t, err, tokens.ErrInvalidIdentity)
				assert.ErrorIs(t, id.Validate(), tokens.ErrInvalidIdentity, "the zero Identity with the error")
			})
			assert.NotPanics(t, func() {
				_, err := a.Token(ctx)
				assert.ErrorIs(t, err, tokens.ErrInvalidIdentity)
			})
			assert.NotPanics(t, func() {
				_, err := a.Authenticate(ctx)
				assert.ErrorIs(t, err, tokens.ErrInvalidIdentity)
			})
			assert.NotPanics(t, func() {
				_, ok := a.Record()
				assert.False(t, ok)
			})
		})
	}
}

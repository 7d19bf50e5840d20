package idpoolhttp_test

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/idpoolhttp"
	"github.com/idpool/idpool/tokens"
)

// nilPanickingIDs panics with nil in Identity.
type nilPanickingIDs struct{}

func (nilPanickingIDs) Identity(tokens.Principal, string) (tokens.Identity, error) { panic(nil) }

// loginIDs is an application's own Identities that builds an identity for
// any principal it is handed, the empty one included (here one fixed
// principal's: a careless fallback).
type loginIDs struct{}

func (loginIDs) Identity(tokens.Principal, string) (tokens.Identity, error) {
	return tokens.VouchedTokenIdentity(tokens.Principal{TenantID: "t", ObjectID: "fallback"}, neverMints)
}

// TestANilPanicIsNeverAnAcceptedRequest: a program run with
// GODEBUG=panicnil=1 (a //go:debug line, or the environment) gets nil from
// recover for panic(nil), and the recover that guards validate and
// Identities then stops the panic as if the call had returned. The guards
// returned their zero results, and the zero verdict was "accepted": a
// validate that panicked with nil passed its request on with the empty
// principal (served as whatever the application's Identities makes of
// it), and an Identities that did called next with the zero Identity. Either is now a 500, logged at Error, and next does not run.
func TestANilPanicIsNeverAnAcceptedRequest(t *testing.T) {
	t.Setenv("GODEBUG", "panicnil=1")
	accept := func(*http.Request, string) (tokens.Principal, error) {
		return tokens.Principal{TenantID: "t", ObjectID: "alice"}, nil
	}
	panics := func(*http.Request, string) (tokens.Principal, error) { panic(nil) }
	for name, tc := range map[string]struct {
		ids      idpoolhttp.Identities
		validate idpoolhttp.Validate
	}{
		"validate":   {loginIDs{}, panics},
		"identities": {nilPanickingIDs{}, accept},
	} {
		t.Run(name, func(t *testing.T) {
			logs := &records{}
			h := idpoolhttp.Middleware(tc.ids, tc.validate, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
				t.Error("the handler ran after a panic")
			}), idpoolhttp.WithLogger(slog.New(logs)))
			var rec interface{ Result() *http.Response }
			var v any
			func() {
				defer func() { v = recover() }()
				rec = call(t.Context(), h, "Bearer tok-0123456789")
			}()
			if v != nil {
				return // the panic went on, as without panicnil=1: nothing served
			}
			require.NotNil(t, rec)
			assert.Equal(t, http.StatusInternalServerError, rec.Result().StatusCode)
			recs := logs.all()
			require.Len(t, recs, 1)
			assert.Equal(t, slog.LevelError, recs[0].Level)
			assert.NotContains(t, recs[0].Attrs["err"], "tok-0123456789")
		})
	}
}

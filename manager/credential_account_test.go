package manager

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idpool/idpool/tokens"
)

// downUserCred is a signed-in user's credential whose token endpoint is
// down: its first GetToken waits for release, and every GetToken fails.
type downUserCred struct {
	calls           atomic.Int32
	called, release chan struct{}
}

func (c *downUserCred) GetToken(ctx context.Context, _ policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if c.calls.Add(1) == 1 {
		close(c.called)
	}
	select {
	case <-c.release:
	case <-ctx.Done():
	}
	return azcore.AccessToken{}, errors.New("token endpoint down")
}

func (c *downUserCred) Authenticate(context.Context, *policy.TokenRequestOptions) (azidentity.AuthenticationRecord, error) {
	return azidentity.AuthenticationRecord{}, errors.New("no prompt in this test")
}

// TestAnAccountsIdentityPerRequestIsOneCredential: Account.Identity costs
// nothing once the account has a record, so an application calls it per
// request. Every call mints through the one Account, so the pool must not
// take each for a new credential: it did, so a mint that failed while
// another request was queued was retried "with the newer credential" (the
// same Account, asked again: one more request to Entra per failure while
// requests keep arriving) and every such request counted as a
// CredentialChange.
func TestAnAccountsIdentityPerRequestIsOneCredential(t *testing.T) {
	m, _ := newManager(t, Config{MaxSize: 4})
	cred := &downUserCred{called: make(chan struct{}), release: make(chan struct{})}
	acct, err := tokens.NewAccount(cred, azidentity.AuthenticationRecord{HomeAccountID: "oid-frank.tid-contoso"})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	identity := func() tokens.Identity {
		id, err := acct.Identity(ctx)
		require.NoError(t, err)
		return id
	}
	a, b := identity(), identity()
	assert.True(t, a.SameCredential(b), "two calls of one Account's Identity are one credential")

	errs := make(chan error, 2)
	go func() { _, err := m.Acquire(ctx, identity()); errs <- err }()
	<-cred.called
	go func() { _, err := m.Acquire(ctx, identity()); errs <- err }()
	eventually(t, func() bool { return m.Stats().Total.Waiters == 2 }, "the second acquire reached the pool")
	close(cred.release)
	for range 2 {
		err := <-errs
		if assert.Error(t, err) {
			assert.Contains(t, err.Error(), "token endpoint down")
		}
	}
	st := m.Stats().Total
	assert.EqualValues(t, 1, cred.calls.Load(), "one failure of the account's token endpoint was asked twice")
	assert.Zero(t, st.CredentialChanges)
	assert.Zero(t, st.CredentialRetries)
}

package tokens

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTokenAndIdentityNeverLeakThroughEncoders(t *testing.T) {
	const secret = "SENTINEL-TOKEN-VALUE-must-not-leak"
	tok := Token{Value: secret, ExpiresOn: time.Unix(1_800_000_000, 0)}
	id := New(KindProvidedToken, "tok:abc", staticSource{tok})
	holder := struct {
		Tok Token
		ID  Identity
	}{tok, id}

	js, err := json.Marshal(holder)
	require.NoError(t, err)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "holder", holder, "tok", tok)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "holder", holder, "tok", tok)
	txt, err := tok.MarshalText()
	require.NoError(t, err)
	for _, out := range []string{string(js), buf.String(), string(txt),
		fmt.Sprintf("%v %+v %#v %s", holder, holder, holder, id), fmt.Sprintf("%#v", id)} {
		assert.NotContains(t, out, secret)
	}
	assert.Contains(t, string(js), tok.Fingerprint(), "still says which token it was")
}

type staticSource struct{ tok Token }

func (s staticSource) Token(context.Context) (Token, error) { return s.tok, nil }

package tds

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests speak TDS by hand to pin what clients written elsewhere rely
// on: the attention acknowledgement as its own message, login-only
// encryption skipped by the client, the ENVCHANGE tokens of USE and SET
// LANGUAGE, and a readable refusal of TDS versions the server does not speak.

// clientPrelogin is a minimal client PRELOGIN offering encryption enc.
func clientPrelogin(enc byte) []byte { return buildPreloginReply(prelogin{}, enc) }

// tokensOf lists the token types of a reply whose tokens are all DONE,
// ENVCHANGE, INFO or ERROR (the ones these tests provoke).
func tokensOf(t *testing.T, b []byte) []byte {
	t.Helper()
	var out []byte
	for len(b) > 0 {
		tok := b[0]
		out = append(out, tok)
		switch tok {
		case tokDone, tokDoneProc, tokDoneInProc:
			require.GreaterOrEqual(t, len(b), 13)
			b = b[13:]
		case tokEnvChange, tokInfo, tokError, tokLoginAck, tokColMetadata:
			if tok == tokColMetadata {
				return out // the rest is not length-prefixed; enough for the tests
			}
			require.GreaterOrEqual(t, len(b), 3)
			n := int(binary.LittleEndian.Uint16(b[1:]))
			require.GreaterOrEqual(t, len(b), 3+n)
			b = b[3+n:]
		default:
			t.Fatalf("unexpected token 0x%02x", tok)
		}
	}
	return out
}

func waitRunning(t *testing.T, srv *Server) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, s := range srv.Sessions() {
			if s.Running {
				return true
			}
		}
		return false
	}, 10*time.Second, time.Millisecond, "the request never started")
}

func TestAttentionAcknowledgedAsItsOwnMessage(t *testing.T) {
	c := captureClient(t)
	srv := startRawServer(t, Options{})
	t.Run("nothing produced yet: an empty reply, then the acknowledgement", func(t *testing.T) {
		r := dialRaw(t, srv)
		r.login(c)
		r.send(pktSQLBatch, 0, batchPayload("WAITFOR DELAY '00:01'"))
		waitRunning(t, srv)
		r.send(pktAttention, 0, nil)
		reply := r.reply()
		require.Len(t, reply.data, 13, "one DONE token")
		assert.Zero(t, binary.LittleEndian.Uint16(reply.data[1:])&(doneAttn|doneMore), "the reply's DONE is final and carries no ATTN")
		ack := r.reply()
		require.Len(t, ack.data, 13, "the acknowledgement is a message of its own")
		assert.Equal(t, tokDone, ack.data[0])
		assert.Equal(t, doneAttn, binary.LittleEndian.Uint16(ack.data[1:]))
		r.send(pktSQLBatch, 0, batchPayload("SELECT 1"))
		assert.Equal(t, tokColMetadata, r.reply().data[0], "the session is usable after the cancel")
	})
	t.Run("partial reply, then the acknowledgement in the next message", func(t *testing.T) {
		r := dialRaw(t, srv)
		r.login(c)
		r.send(pktSQLBatch, 0, batchPayload("SET NOCOUNT ON; WAITFOR DELAY '00:01'"))
		waitRunning(t, srv)
		r.send(pktAttention, 0, nil)
		cut := r.reply()
		toks := tokensOf(t, cut.data)
		require.Equal(t, []byte{tokDone, tokDone}, toks)
		last := cut.data[len(cut.data)-13:]
		assert.Zero(t, binary.LittleEndian.Uint16(last[1:])&(doneAttn|doneMore), "the cut reply ends with a final DONE without ATTN")
		ack := r.reply()
		require.Len(t, ack.data, 13)
		assert.Equal(t, doneAttn, binary.LittleEndian.Uint16(ack.data[1:]))
	})
}

func TestLoginOnlyEncryptionAcceptsAClientThatSkipsIt(t *testing.T) {
	// tedious offers ENCRYPT_OFF and, told OFF, sends LOGIN7 in clear.
	c := captureClient(t)
	srv := startRawServer(t, Options{})
	r := dialRaw(t, srv)
	r.send(pktPrelogin, 0, clientPrelogin(encryptOff))
	p, err := parsePrelogin(r.reply().data)
	require.NoError(t, err)
	assert.Equal(t, encryptOff, p.encryption)
	r.send(pktLogin7, 0, c.ofType(pktLogin7)[1])
	assert.Contains(t, tokensOf(t, r.reply().data), tokLoginAck)
}

func TestForcedEncryptionHangsUpOnAClientThatCannotEncrypt(t *testing.T) {
	srv := startRawServer(t, Options{Encryption: EncryptionRequired})
	r := dialRaw(t, srv)
	r.send(pktPrelogin, 0, clientPrelogin(encryptNotSup))
	p, err := parsePrelogin(r.reply().data)
	require.NoError(t, err)
	assert.Equal(t, encryptReq, p.encryption, "the client learns why")
	r.expectClosed()
}

func TestUnsupportedTDSVersionRefusedWithALoginError(t *testing.T) {
	c := captureClient(t)
	srv := startRawServer(t, Options{})
	for _, v := range []uint32{0x71000001, 0x72090002, 0x730B0003, 0x75000000} {
		r := dialRaw(t, srv)
		r.send(pktPrelogin, 0, c.ofType(pktPrelogin)[1])
		r.reply()
		login := append([]byte(nil), c.ofType(pktLogin7)[1]...)
		binary.LittleEndian.PutUint32(login[4:], v)
		if v>>24 == 0x71 {
			login = login[:60] // an older layout: whatever follows the version must not matter
		}
		r.send(pktLogin7, 0, login)
		m := r.reply()
		n, ok := firstError(m)
		require.True(t, ok, "version 0x%08X: an ERROR token, not a dropped connection", v)
		assert.Equal(t, int32(18456), n)
		if v>>24 == 0x71 {
			// TDS 7.1's DONE has a 4-byte row count.
			n := int(binary.LittleEndian.Uint16(m.data[1:]))
			assert.Len(t, m.data, 3+n+9)
			assert.Equal(t, tokDone, m.data[3+n])
		} else {
			assert.Equal(t, []byte{tokError, tokDone}, tokensOf(t, m.data))
		}
		assert.Contains(t, errorText(t, m.data), "TDS version")
		r.expectClosed()
	}
}

func TestUseAndSetLanguageSendTheirEnvChanges(t *testing.T) {
	c := captureClient(t)
	srv := startRawServer(t, Options{})
	r := dialRaw(t, srv)
	r.login(c)

	r.send(pktSQLBatch, 0, batchPayload("USE [other db]"))
	m := r.reply()
	require.Equal(t, []byte{tokEnvChange, tokInfo, tokDone}, tokensOf(t, m.data))
	assert.Equal(t, envDatabase, m.data[3])
	assert.Contains(t, string(m.data), string(appendUCS2(nil, "other db")))

	r.send(pktSQLBatch, 0, batchPayload("set language us_english\nset dateformat dmy"))
	m = r.reply()
	require.Equal(t, []byte{tokEnvChange, tokInfo, tokDone, tokDone}, tokensOf(t, m.data))
	assert.Equal(t, envLanguage, m.data[3])

	r.send(pktSQLBatch, 0, batchPayload("SET DATEFORMAT xyz"))
	n, ok := firstError(r.reply())
	require.True(t, ok)
	assert.Equal(t, int32(2741), n)
}

// startRawServer starts a server with an "sa" login the captured client
// uses, and closes it after the test.
func startRawServer(t *testing.T, o Options) *Server {
	t.Helper()
	o.Users = map[string]string{"sa": "Seed-Passw0rd"}
	srv, err := Start(o)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return srv
}

// errorText is the message of the first ERROR token.
func errorText(t *testing.T, b []byte) string {
	t.Helper()
	require.Equal(t, tokError, b[0])
	n := int(binary.LittleEndian.Uint16(b[9:]))
	s, err := ucs2ToString(b[11 : 11+2*n])
	require.NoError(t, err)
	return s
}

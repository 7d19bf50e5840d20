package postgres

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// frame builds one protocol message: typ, an int32 length counting itself,
// then body.
func frame(typ byte, body string) []byte {
	b := []byte{typ, 0, 0, 0, 0}
	b = append(b, body...)
	binary.BigEndian.PutUint32(b[1:5], uint32(4+len(body)))
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

var (
	readyIdle   = frame('Z', "I")
	paramTZ     = frame('S', "TimeZone\x00UTC\x00")
	notice      = frame('N', "SNOTICE\x00Mhello\x00\x00")
	oldNotify   = frame('A', "\x00\x00\x00\x07leak\x00secret\x00")
	setCmdDone  = frame('C', "SET\x00")
	fatalReset  = frame('E', "SFATAL\x00VFATAL\x00C57P01\x00Mterminating connection due to administrator command\x00\x00")
	userQuery   = frame('Q', "SELECT 1\x00")
	userReplies = cat(frame('T', "\x00\x01x\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x17\x00\x04\xff\xff\xff\xff\x00\x00"),
		frame('D', "\x00\x01\x00\x00\x00\x011"), frame('C', "SELECT 1\x00"), readyIdle)
)

// pipeConn is a sessionConn over one end of a net.Pipe whose other end
// plays the server, which has finished the login.
func pipeConn(t *testing.T) (*sessionConn, net.Conn) {
	t.Helper()
	client, server := net.Pipe()
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	sc := newSessionConn(client)
	sc.out.started = true // the startup message went before
	serve(t, server, readyIdle)
	got, err := readByteByByte(sc, len(readyIdle))
	require.NoError(t, err)
	require.Equal(t, readyIdle, got)
	return sc, server
}

// serve writes b from the server's end in the background; at cleanup the
// test closes the server's end, which ends a write the client did not read
// to the end, and waits for it.
func serve(t *testing.T, server net.Conn, b []byte) {
	t.Helper()
	done := make(chan error, 1)
	go func() { _, err := server.Write(b); done <- err }()
	t.Cleanup(func() { _ = server.Close(); <-done })
}

// readByteByByte reads n bytes for pgx one byte per Read, so every frame is
// split at every byte.
func readByteByByte(c net.Conn, n int) ([]byte, error) {
	var got []byte
	one := make([]byte, 1)
	for len(got) < n {
		k, err := c.Read(one)
		got = append(got, one[:k]...)
		if err != nil {
			return got, err
		}
	}
	return got, nil
}

// sendAfterRelease releases (deferring the reset) and has pgx write the
// user's query; it returns what the server received.
func sendAfterRelease(t *testing.T, sc *sessionConn, server net.Conn) []byte {
	t.Helper()
	require.True(t, sc.deferReset(), "a clean lease defers its reset")
	received := make(chan []byte, 1)
	go func() {
		b := make([]byte, len(resetMessages[1])+len(userQuery))
		_, _ = io.ReadFull(server, b)
		received <- b
	}()
	n, err := sc.Write(userQuery)
	require.NoError(t, err)
	assert.Equal(t, len(userQuery), n, "Write counts the caller's bytes only")
	return <-received
}

// TestSessionConnPiggybacksTheReset: the reset goes in front of the next
// request in one write, and its replies never reach pgx, whatever the split
// of the frames across reads, but for ParameterStatus; a notification for an
// old LISTEN and a notice before the reset's ReadyForQuery are dropped.
func TestSessionConnPiggybacksTheReset(t *testing.T) {
	sc, server := pipeConn(t)
	got := sendAfterRelease(t, sc, server)
	assert.Equal(t, cat(resetMessages[1], userQuery), got, "the first reset prepares its check")

	// What the server answers: exit_on_error's ParseComplete,
	// BindComplete and CommandComplete, a ParseComplete per other statement
	// (the first reset prepares them), then per statement a BindComplete and
	// its result, and one ReadyForQuery for the Sync.
	resetReplies := cat(frame('1', ""), oldNotify, frame('2', ""), setCmdDone, notice) // exit_on_error
	for range len(resetSQL) - 1 {
		resetReplies = cat(resetReplies, frame('1', ""))
	}
	for i := 1; i < len(resetSQL); i++ {
		switch {
		case i == len(resetSQL)-2: // the check
			resetReplies = cat(resetReplies, frame('2', ""), frame('D', "\x00\x00"), frame('C', "SELECT 1\x00"))
		case i == len(resetSQL)-1: // RESET ALL
			resetReplies = cat(resetReplies, frame('2', ""), paramTZ, frame('C', "RESET\x00"))
		default:
			resetReplies = cat(resetReplies, frame('2', ""), setCmdDone)
		}
	}
	resetReplies = cat(resetReplies, readyIdle)
	serve(t, server, cat(resetReplies, userReplies))
	want := cat(paramTZ, userReplies)
	out, err := readByteByByte(sc, len(want))
	require.NoError(t, err)
	assert.Equal(t, want, out)

	// The next request goes alone.
	go func() { _, _ = io.ReadFull(server, make([]byte, len(userQuery))) }()
	_, err = sc.Write(userQuery)
	require.NoError(t, err)
}

// TestSessionConnFailsClosedOnAResetError: an ErrorResponse among the
// reset's replies fails the Read with an error naming the reset (so pgx
// closes the connection and the call fails), and every later Read and Write.
func TestSessionConnFailsClosedOnAResetError(t *testing.T) {
	sc, server := pipeConn(t)
	sendAfterRelease(t, sc, server)
	serve(t, server, cat(setCmdDone, fatalReset))
	_, err := readByteByByte(sc, 1)
	var re *resetError
	require.ErrorAs(t, err, &re)
	assert.True(t, re.Fatal())
	assert.Equal(t, "57P01", re.Code)
	assert.ErrorContains(t, err, "session reset")
	assert.ErrorContains(t, err, "did not run")

	_, err = sc.Read(make([]byte, 8))
	assert.ErrorAs(t, err, &re)
	_, err = sc.Write(userQuery)
	assert.ErrorAs(t, err, &re)
	assert.False(t, sc.deferReset(), "a failed connection never defers again")
}

// TestSessionConnFailsClosedWhenTheServerGoes: the connection ending before
// the reset's replies fails the Read with an error naming the reset.
func TestSessionConnFailsClosedWhenTheServerGoes(t *testing.T) {
	sc, server := pipeConn(t)
	sendAfterRelease(t, sc, server)
	require.NoError(t, server.Close())
	_, err := sc.Read(make([]byte, 8))
	require.ErrorIs(t, err, io.EOF)
	assert.ErrorContains(t, err, "session reset")
}

// TestSessionConnSendsThePendingResetBeforeARead: a call that reads before
// it writes anything (pgx.Conn.WaitForNotification) sends the pending reset
// first, alone, and gets nothing the server sent before the reset's
// ReadyForQuery (a notification for an old LISTEN); the request after it
// goes without a reset.
func TestSessionConnSendsThePendingResetBeforeARead(t *testing.T) {
	sc, server := pipeConn(t)
	require.True(t, sc.deferReset())
	received := make(chan []byte, 1)
	go func() {
		b := make([]byte, len(resetMessages[1]))
		_, _ = io.ReadFull(server, b)
		received <- b
	}()
	newNotify := frame('A', "\x00\x00\x00\x07mine\x00hello\x00")
	serve(t, server, cat(oldNotify, setCmdDone, readyIdle, newNotify))
	got, err := readByteByByte(sc, len(newNotify))
	require.NoError(t, err)
	require.Equal(t, newNotify, got, "only what followed the reset reached pgx")
	assert.Equal(t, resetMessages[1], <-received, "the reset went first, alone")

	go func() { received <- readN(server, len(userQuery)) }()
	_, err = sc.Write(userQuery)
	require.NoError(t, err)
	assert.Equal(t, userQuery, <-received, "the next request goes alone")
}

// readN reads n bytes from c, or what came before an error.
func readN(c net.Conn, n int) []byte {
	b := make([]byte, n)
	k, _ := io.ReadFull(c, b)
	return b[:k]
}

// TestSessionConnNeverResetsBeforeATerminate: closing a connection with a
// reset pending sends the Terminate alone.
func TestSessionConnNeverResetsBeforeATerminate(t *testing.T) {
	sc, server := pipeConn(t)
	require.True(t, sc.deferReset())
	terminate := frame('X', "")
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(server)
		got <- b
	}()
	_, err := sc.Write(terminate)
	require.NoError(t, err)
	require.NoError(t, sc.Close())
	assert.Equal(t, terminate, <-got)
}

// TestSessionConnFullResetWhenPgxMustForget: what the deferred reset cannot
// square with pgx's side makes the release run the full reset.
func TestSessionConnFullResetWhenPgxMustForget(t *testing.T) {
	const q = "SELECT $1::int"
	cacheName := "stmtcache_" + hexDigest(q)
	for _, tc := range []struct {
		name  string
		sent  []byte
		reply []byte
		full  bool
	}{
		{"cached statement", frame('P', cacheName+"\x00"+q+"\x00\x00\x00"), nil, false},
		{"unnamed statement", frame('P', "\x00"+q+"\x00\x00\x00"), nil, false},
		{"named statement", frame('P', "mine\x00"+q+"\x00\x00\x00"), nil, true},
		{"forged cache name", frame('P', cacheName+"\x00SELECT 2\x00\x00\x00"), nil, true},
		{"PREPARE", frame('Q', "prepare leak as select 1\x00"), nil, true},
		{"DEALLOCATE", frame('Q', "DEALLOCATE "+cacheName+"\x00"), nil, true},
		{"DISCARD", frame('Q', "discard all\x00"), nil, true},
		{"mentions pg_prepared_statements", frame('Q', "SELECT * FROM pg_prepared_statements\x00"), nil, false},
		{"idle_session_timeout", frame('Q', "SET Idle_Session_Timeout = '1ms'\x00"), nil, true},
		{"session advisory lock", frame('Q', "SELECT pg_advisory_lock(1)\x00"), nil, true},
		{"shared session advisory lock", frame('P', "\x00SELECT PG_TRY_ADVISORY_LOCK_SHARED($1)\x00\x00\x00"), nil, true},
		{"transaction advisory lock", frame('Q', "SELECT pg_advisory_xact_lock(1)\x00"), nil, false},
		{"idle_session_timeout by set_config", frame('P', "\x00SELECT set_config('idle_session_timeout', $1, false)\x00\x00\x00"), nil, true},
		{"ParameterStatus", nil, cat(paramTZ, readyIdle), true},
		{"unparsed message after ReadyForQuery", nil, cat(readyIdle, oldNotify), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, server := pipeConn(t)
			if tc.sent != nil {
				go func() { _, _ = io.ReadFull(server, make([]byte, len(tc.sent))) }()
				// Split the message at every byte, too.
				for i := range tc.sent {
					_, err := sc.Write(tc.sent[i : i+1])
					require.NoError(t, err)
				}
			}
			if tc.reply != nil {
				serve(t, server, tc.reply)
				_, err := readByteByByte(sc, len(tc.reply))
				require.NoError(t, err)
			}
			assert.Equal(t, !tc.full, sc.deferReset())
		})
	}
}

// hexDigest is the hex of sha256(s)[:24], as pgx's statement cache names
// statements (internal/stmtcache.StatementName).
func hexDigest(s string) string {
	d := sha256.Sum256([]byte(s))
	return hex.EncodeToString(d[:24])
}

// TestReplyFilterRejectsAMalformedFrame: a length below 4 cannot be followed.
func TestReplyFilterRejectsAMalformedFrame(t *testing.T) {
	var f replyFilter
	_, err := f.filter([]byte{'Z', 0, 0, 0, 3})
	assert.True(t, errors.Is(err, errMalformedFrame))
}

// TestReplyFilterFailsAtAFieldlessResetError: a reset's ErrorResponse with
// no fields (length 4, so it ends with its header) fails the filter in the
// read it arrives in, and the start of a ParameterStatus after it in that
// read (a frame the filter would otherwise keep for pgx) never reaches pgx.
// Found by FuzzReplyFilter: the header path went on past the failure, so
// this read handed pgx the frame's first bytes and no error, and the same
// bytes failed or not depending on how the network split them.
func TestReplyFilterFailsAtAFieldlessResetError(t *testing.T) {
	var f replyFilter
	f.owed = resetReplies
	data := cat(frame('E', ""), paramTZ[:3])
	n, err := f.filter(data)
	var re *resetError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "(no message)", re.Message)
	assert.Zero(t, n, "nothing after the failed reset reaches pgx")
}

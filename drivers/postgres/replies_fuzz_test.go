package postgres

import (
	"bytes"
	"testing"
)

// FuzzReplyFilter feeds the reply filter bytes as the network may deliver
// them: any bytes, split anywhere. Whatever the split, it hands pgx the same
// bytes and fails the same way, never hands over more than it read, and
// never panics. Its seed corpus runs with every go test.
func FuzzReplyFilter(f *testing.F) {
	replies := cat(oldNotify, setCmdDone, notice, readyIdle, frame('1', ""), frame('2', ""), readyIdle, paramTZ, setCmdDone, readyIdle)
	f.Add(cat(replies, userReplies), uint8(1), true)
	f.Add(cat(replies, userReplies), uint8(3), false)
	f.Add(cat(setCmdDone, fatalReset), uint8(2), true)
	f.Add(cat(readyIdle, oldNotify), uint8(5), false)
	f.Add([]byte{'Z', 0, 0, 0, 3}, uint8(1), true)
	f.Add(cat(setCmdDone, frame('Z', "T"), paramTZ, userReplies), uint8(2), true)
	f.Add([]byte{'D', 0x7f, 0xff, 0xff, 0xff, 1, 2}, uint8(4), true)
	f.Fuzz(func(t *testing.T, data []byte, step uint8, owed bool) {
		whole, wholeErr := runFilter(data, len(data)+1, owed)
		chunked, chunkedErr := runFilter(data, int(step%7)+1, owed)
		if (wholeErr == nil) != (chunkedErr == nil) {
			t.Fatalf("errors differ by split: %v vs %v", wholeErr, chunkedErr)
		}
		if wholeErr == nil && !bytes.Equal(whole, chunked) {
			t.Fatalf("output differs by split:\n%q\n%q", whole, chunked)
		}
		if len(whole) > len(data) || len(chunked) > len(data) {
			t.Fatal("the filter handed over more than it read")
		}
	})
}

// runFilter filters a copy of data in reads of size step and returns what
// reached pgx.
func runFilter(data []byte, step int, owed bool) ([]byte, error) {
	var f replyFilter
	if owed {
		f.owed = resetReplies
	}
	buf := bytes.Clone(data)
	var out []byte
	for i := 0; i < len(buf); i += step {
		n, err := f.filter(buf[i:min(i+step, len(buf))])
		if err != nil {
			return out, err
		}
		out = append(out, buf[i:i+n]...)
	}
	return out, nil
}

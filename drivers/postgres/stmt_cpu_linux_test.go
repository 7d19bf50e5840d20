package postgres_test

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is Linux's USER_HZ, the unit of /proc/<pid>/stat's CPU times
// (100 on every architecture Go supports).
const clockTick = 10 * time.Millisecond

// cpuUsed returns the CPU time (user + system) this process has used, and
// that of the server processes pids, which must be running.
func cpuUsed(pids []int) (client, server time.Duration, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, false
	}
	client = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return 0, 0, false
		}
		// Fields after the command name, which is in parentheses and may
		// hold spaces: utime and stime are the 14th and 15th fields.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 13 {
			return 0, 0, false
		}
		u, err1 := strconv.ParseInt(f[11], 10, 64)
		st, err2 := strconv.ParseInt(f[12], 10, 64)
		if err1 != nil || err2 != nil {
			return 0, 0, false
		}
		server += time.Duration(u+st) * clockTick
	}
	return client, server, true
}

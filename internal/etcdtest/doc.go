// Package etcdtest starts throwaway etcd clusters for tests, from the etcd
// server binary installed on the machine (Debian's etcd-server package;
// .ci/install-etcd.sh installs it). It looks in ETCDTEST_BIN, then PATH.
//
// A cluster has three members by default, each listening for clients and
// peers on free ports of 127.0.0.1 only, with its data in a temporary
// directory and short raft timers (heartbeat 50ms, election 500ms) so that a
// leader change takes well under a second. Members can be stopped (SIGKILL,
// as a crash), restarted on their data, and the leadership moved, so tests can
// inject the failures a fleet budget must survive.
//
// When the binary is missing, Start skips the test with a hint on how to
// install it, unless IDPOOL_REQUIRE_ETCD=1 is set (as in CI), in which case
// the test fails instead.
//
// Every member is started with the parent-death signal set to SIGKILL, so a
// test binary that dies before its cleanups ran does not leave etcd running.
package etcdtest
